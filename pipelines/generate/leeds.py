"""Local colour for Leeds: wards, places for school names, and fake names for the columns partners
send that the pipeline must ignore (child names, workers, locations).

Ward weights roughly follow deprivation, which is where domestic incidents concentrate. Every name
here is invented or a public place name; no real person is described.
"""

from __future__ import annotations

WARDS: dict[str, float] = {
    "Adel & Wharfedale": 1.0, "Alwoodley": 1.4, "Ardsley & Robin Hood": 1.6, "Armley": 3.6,
    "Beeston & Holbeck": 3.8, "Bramley & Stanningley": 3.0, "Burmantofts & Richmond Hill": 4.6,
    "Calverley & Farsley": 1.3, "Chapel Allerton": 2.4, "Cross Gates & Whinmoor": 2.6,
    "Farnley & Wortley": 3.0, "Garforth & Swillington": 1.5, "Gipton & Harehills": 5.0,
    "Guiseley & Rawdon": 1.2, "Harewood": 0.8, "Headingley & Hyde Park": 1.8, "Horsforth": 1.1,
    "Hunslet & Riverside": 3.9, "Killingbeck & Seacroft": 4.4, "Kippax & Methley": 1.5,
    "Kirkstall": 2.3, "Little London & Woodhouse": 3.2, "Middleton Park": 4.3, "Moortown": 1.4,
    "Morley North": 1.7, "Morley South": 2.0, "Otley & Yeadon": 1.4, "Pudsey": 1.9,
    "Rothwell": 1.7, "Roundhay": 1.3, "Temple Newsam": 2.3, "Weetwood": 1.6, "Wetherby": 0.9,
}

PLACES = [
    "Adel", "Allerton Bywater", "Alwoodley", "Armley", "Austhorpe", "Bankside", "Bardsey",
    "Beeston", "Beeston Hill", "Belle Isle", "Blenheim", "Boston Spa", "Bramham", "Bramley",
    "Brudenell", "Burley", "Calverley", "Carr Manor", "Castleton", "Chapel Allerton",
    "Chapeltown", "Churwell", "Clapgate", "Colton", "Cookridge", "Cottingley", "Crawshaw",
    "Cross Gates", "Drighlington", "East Ardsley", "East Garforth", "Ebor Gardens", "Farsley",
    "Fieldhead", "Gildersome", "Gipton", "Greenhill", "Grimes Dyke", "Guiseley", "Halton",
    "Harehills", "Hawksworth", "Headingley", "Holbeck", "Holy Rosary", "Horsforth", "Hovingham",
    "Hugh Gaitskell", "Hunslet", "Hunslet Moor", "Ireland Wood", "Kippax", "Kirkstall",
    "Lawns Park", "Lane End", "Lower Wortley", "Manston", "Meanwood", "Methley", "Middleton",
    "Moor Allerton", "Moortown", "Morley", "Newlaithes", "New Bewerley", "Oakwood", "Otley",
    "Oulton", "Park Spring", "Pool", "Pudsey", "Quarry Mount", "Rawdon", "Richmond Hill",
    "Robin Hood", "Rothwell", "Roundhay", "Rufford Park", "Scholes", "Seacroft", "Shakespeare",
    "Sharp Lane", "Sherburn", "Shire Oak", "Stanningley", "Swillington", "Swinnow", "Talbot",
    "Tinshill", "Thorner", "Valley View", "Victoria", "Weetwood", "West End", "Westerton",
    "Wetherby", "Whingate", "Whinmoor", "Windmill", "Woodhouse", "Woodlesford", "Wortley",
    "Wykebeck", "Yeadon",
]

SAINTS = ["St Mary's", "St Joseph's", "St Peter's", "St Anne's", "St Bartholomew's", "St Chad's",
          "St Matthew's", "St Augustine's", "St Theresa's", "Holy Trinity", "St Paul's", "Christ Church"]

PRIMARY_KINDS = ["Primary School", "Primary School", "Primary Academy", "Community Primary School",
                 "Junior and Infant School", "CE Primary School"]
SECONDARY_KINDS = ["Academy", "High School", "College", "School", "Community High School"]

FIRST_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Freya", "Lily", "Mia", "Aisha", "Zara", "Grace", "Ella",
    "Sophia", "Maryam", "Ruby", "Evie", "Poppy", "Amara", "Chloe", "Jessica", "Hannah",
    "Oliver", "George", "Noah", "Muhammad", "Leo", "Harry", "Jack", "Charlie", "Oscar", "Jacob",
    "Alfie", "Ibrahim", "Kai", "Tyler", "Reece", "Callum", "Ethan", "Daniel", "Kacper", "Yusuf",
]
SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Wilson", "Khan", "Hussain", "Walker", "Wood", "Wright",
    "Thompson", "Robinson", "Ali", "White", "Hughes", "Edwards", "Green", "Hall", "Lewis", "Clarke",
    "Patel", "Ahmed", "Kowalski", "Turner", "Holmes", "Shaw", "Atkinson", "Marsh", "Begum", "Dobson",
]

TEAMS = ["Front Door", "Duty and Advice", "MASH", "Out of Hours", "Cluster East", "Cluster West"]

# Free text the return interview service keeps (ignored by the pipeline); the £ and é make a
# Windows-1252 export differ from UTF-8, which is the point.
LOCATIONS = [
    "City centre, Briggate", "Friend's address, Harehills", "Kirkgate Market", "Café, Call Lane",
    "Leeds railway station", "Boyfriend's address", "Woodhouse Moor", "£1 shop, Crossgates",
    "Relative's home, Seacroft", "White Rose Centre", "Roundhay Park", "Not disclosed",
    "Bus station", "Trinity Leeds", "Canal towpath, Kirkstall", "Fast food restaurant, Armley",
]
