"""LSCP performance scorecard: partner intake, indicators, RAG/SPC and outputs.

Pure logic, importable without Airflow: the DAGs in ``dags/`` and the ``scorecard``
command line both call these functions.
"""

__version__ = "0.1.0"
