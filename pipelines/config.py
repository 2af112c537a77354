"""Settings from the environment (or a ``.env`` file in the working directory).

Only the command line reads the environment; the Airflow DAGs build the same ``Settings``
from connections and variables, so the logic never cares where a value came from.

Every ``SCORECARD_*`` setting is a field of one typed model (``SettingsModel``, pydantic-settings)
with its type, range and meaning; the README's table and ``.env.example`` are tested against it.
A mistake (a value out of range, a misspelt name, a short key, a ``postgres://`` URL) stops the
program with one plain-English line naming the setting (``ConfigError``). The ``.env`` file is
read with python-dotenv (comments, quotes, ``export``, ``${VAR}``); real environment variables
win over it. With ``SCORECARD_PSEUDONYM_KEY`` unset, the key is read from
``$SCORECARD_HOME/pseudonym.key`` (the file ``scorecard demo`` writes).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_REJECT_THRESHOLD = 0.10
DEFAULT_SUPPRESSION_THRESHOLD = 5
DEFAULT_MAX_FILE_MB = 100.0
DEFAULT_RETENTION_DAYS = 400
DEFAULT_CLAIM_TIMEOUT_MINUTES = 60.0
DEFAULT_FILE_MEMORY_MB = 2048.0
DEFAULT_FILE_SECONDS = 600.0
DEFAULT_SMTP_DEADLINE_SECONDS = 60.0
DEFAULT_MAIL_FROM = "scorecard@lscp.invalid"
DEFAULT_PMSG_TO = "pmsg@lscp.invalid"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
MIN_KEY_LENGTH = 16  # characters; `secrets.token_hex(32)` and the demo's key have 64


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class FolderNotWritable(RuntimeError):
    """A folder the product must write to cannot be written at run time (a read-only mount, a
    full disk); nothing was processed. The system could not do its job: exit status 1."""


class HomeNotUsable(ConfigError):
    """``SCORECARD_HOME`` (or the SQLite warehouse's folder) cannot be created: a setting to
    correct, exit status 2."""


@dataclass(frozen=True)
class MailSettings:
    host: str | None = None
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "scorecard@lscp.invalid"
    pmsg_recipients: tuple[str, ...] = ()
    analyst: str | None = None
    data_officers: dict[str, str] = field(default_factory=dict)
    deadline_seconds: float = DEFAULT_SMTP_DEADLINE_SECONDS  # a whole SMTP conversation, connect to quit


@dataclass(frozen=True)
class PortalSettings:
    """The web portal (``scorecard serve``): its address as users reach it (links in emails),
    cookies, session lifetimes and the login lock."""

    url: str = DEFAULT_PORTAL_URL
    secure_cookies: bool = True  # off only for plain http on one's own machine (the demo)
    idle_minutes: float = 30.0
    session_hours: float = 12.0
    lock_after: int = 6  # the sixth wrong password in a row locks the account
    link_hours: float = 72.0  # a one-time set-password link lasts this long


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str
    pseudonym_key: bytes | None = field(default=None, repr=False)
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    settle_seconds: float = 5.0
    max_file_mb: float = DEFAULT_MAX_FILE_MB
    retention_days: int = DEFAULT_RETENTION_DAYS
    claim_timeout_minutes: float = DEFAULT_CLAIM_TIMEOUT_MINUTES
    file_memory_mb: float = DEFAULT_FILE_MEMORY_MB  # reading and checking one file, in its own process
    file_seconds: float = DEFAULT_FILE_SECONDS
    mail: MailSettings = field(default_factory=MailSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    # where each SCORECARD_* value came from (environment, .env, pseudonym.key); `scorecard config`
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def rejected(self) -> Path:
        return self.home / "rejected"

    @property
    def receipts(self) -> Path:
        return self.home / "receipts"

    @property
    def out(self) -> Path:
        return self.home / "out"

    @property
    def outbox(self) -> Path:
        return self.out / "outbox"

    @property
    def processing(self) -> Path:
        """Claims on files being processed (one lock file per file's SHA-256)."""
        return self.home / "processing"

    @property
    def key_file(self) -> Path:
        return self.home / "pseudonym.key"

    def ensure_folders(self) -> None:
        """Create the folders; every folder the product writes to is owner-only (0700). The
        inbox is created but its permissions are left alone: partners drop files into it, so
        the operator decides who may (see docs/operator-guide.md)."""
        for folder in (
            self.inbox,
            self.home,
            self.archive,
            self.rejected,
            self.receipts,
            self.out,
            self.outbox,
            self.processing,
        ):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HomeNotUsable(
                    f"cannot create {folder} ({exc.strerror or type(exc).__name__}): SCORECARD_HOME "
                    f"({self.home}) must be a folder this user can write to"
                ) from None
            if folder == self.inbox:
                continue
            try:
                folder.chmod(0o700)
            except OSError:  # a mounted volume may not allow it; the data is still written
                pass

    def check_writable(self) -> None:
        """Stop before any file is processed when a folder intake files things into cannot be
        written (a read-only mount, a full disk, wrong ownership): one line naming the folder,
        rather than failing on the first file, again on every run. Tried by writing, as
        permission bits say nothing to root or about a read-only filesystem."""
        for folder in (self.archive, self.rejected, self.receipts, self.processing, self.outbox):
            probe = folder / f".write-test-{os.getpid()}"
            try:
                fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
                probe.unlink()
            except OSError as exc:
                raise FolderNotWritable(
                    f"cannot write to {folder} ({exc.strerror or type(exc).__name__}): intake stopped before "
                    "processing any file; make the folder writable and run again"
                ) from None

    def with_key(self, key: bytes) -> Settings:
        return _replace(self, pseudonym_key=key)


def _replace(settings: Settings, **changes) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


# --- The model: every SCORECARD_* setting, its type, range and meaning ------------------------

PREFIX = "SCORECARD_"
OFFICER_PREFIX = "SCORECARD_DATA_OFFICER_"
# Names that are not settings of the program but are allowed in the environment and .env:
# docker-compose.yml's own (read by Compose, not by the program) and the crash tests' switch.
NOT_SETTINGS = {
    "SCORECARD_DATA": "docker-compose.yml: the host folder mounted as the scorecard home",
    "SCORECARD_INBOX": "docker-compose.yml: the host folder mounted as the inbox",
    "SCORECARD_IMAGE": "docker-compose.yml: the Airflow image",
    "SCORECARD_FAULT_KILL_AT": "the crash-recovery tests only",
}
TEST_PREFIX = "SCORECARD_TEST_"
SECRETS = {"SCORECARD_PSEUDONYM_KEY", "SCORECARD_SMTP_PASSWORD"}


def _must(text: str, **extra) -> dict:
    return {"must": text, **extra}


class SettingsModel(BaseSettings):
    """Every ``SCORECARD_*`` setting (the field name upper-cased, after ``SCORECARD_``). Values
    come only from the dictionary ``load_settings`` gathers (the environment over ``.env``).
    ``SCORECARD_DATA_OFFICER_<SOURCE>`` (one per source of the rules in use) is checked apart."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", frozen=True)

    home: str = Field(
        "./var",
        description="holds `inbox/`, `archive/`, `rejected/`, `receipts/`, `out/`, `pseudonym.key` (the demo's) and the SQLite warehouse",
    )
    warehouse_url: str | None = Field(
        None,
        description="any SQLAlchemy URL; PostgreSQL as `postgresql+psycopg://user:pass@host/db`",
        json_schema_extra={"default_text": "sqlite:///$SCORECARD_HOME/warehouse.db"},
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="secret for pseudonymising child identifiers (HMAC-SHA256)",
        json_schema_extra=_must(
            f"at least {MIN_KEY_LENGTH} characters long", default_text="$SCORECARD_HOME/pseudonym.key"
        ),
    )
    reject_threshold: float = Field(
        DEFAULT_REJECT_THRESHOLD,
        ge=0,
        le=1,
        description="share of bad rows above which a whole file is rejected",
        json_schema_extra=_must("a fraction between 0 and 1", hint="0.10 means 10%"),
    )
    suppression_threshold: int = Field(
        DEFAULT_SUPPRESSION_THRESHOLD,
        ge=0,
        description="disclosive indicators with a numerator from 1 to this show `c` outside the warehouse",
        json_schema_extra=_must("a whole number, 0 or more"),
    )
    settle_seconds: float = Field(
        5.0,
        ge=0,
        description="a file changed more recently than this is still being written and waits for the next run",
        json_schema_extra=_must("a number of seconds, 0 or more"),
    )
    max_file_mb: float = Field(
        DEFAULT_MAX_FILE_MB,
        gt=0,
        description="a partner file larger than this is not read (rejected, kept in `rejected/`)",
        json_schema_extra=_must("a number of megabytes above 0"),
    )
    file_memory_mb: float = Field(
        DEFAULT_FILE_MEMORY_MB,
        gt=0,
        description="memory that reading and checking one file may take (in its own process) before it is stopped and rejected",
        json_schema_extra=_must("a number of megabytes above 0"),
    )
    file_seconds: float = Field(
        DEFAULT_FILE_SECONDS,
        gt=0,
        description="time that reading, checking and loading one file may take before it is stopped and rejected",
        json_schema_extra=_must("a number of seconds above 0"),
    )
    retention_days: int = Field(
        DEFAULT_RETENTION_DAYS,
        ge=0,
        description="archived and rejected originals are deleted after this many days (the load record stays); 0 keeps them for ever",
        json_schema_extra=_must("a whole number of days, 0 or more", hint="0 keeps the originals for ever"),
    )
    claim_timeout_minutes: float = Field(
        DEFAULT_CLAIM_TIMEOUT_MINUTES,
        gt=0,
        description="a file claimed by a run that has not finished it in this time is taken over by the next run",
        json_schema_extra=_must("a number of minutes above 0"),
    )
    smtp_host: str | None = Field(
        None, description="mail server; with no host, mail is written as `.eml` to `$SCORECARD_HOME/out/outbox/`"
    )
    smtp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="the mail server's port",
        json_schema_extra=_must("a port number from 1 to 65535", default_text="25, 587 (starttls) or 465 (ssl)"),
    )
    smtp_security: Literal["none", "starttls", "ssl"] = Field(
        "none", description="`none`, `starttls` or `ssl`", json_schema_extra=_must("none, starttls or ssl")
    )
    smtp_user: str | None = Field(None, description="the mail server login")
    smtp_password: SecretStr | None = Field(None, description="the mail server password")
    smtp_deadline_seconds: float = Field(
        DEFAULT_SMTP_DEADLINE_SECONDS,
        gt=0,
        description="the most one whole SMTP conversation may take; past it the message is queued",
        json_schema_extra=_must("a number of seconds above 0"),
    )
    mail_from: str = Field(DEFAULT_MAIL_FROM, description="sender")
    pmsg_to: str = Field(DEFAULT_PMSG_TO, description="the sub group's distribution list (comma-separated)")
    analyst_email: str | None = Field(None, description="the analyst: receipts for unidentified files, failure alerts")
    resources: str | None = Field(
        None,
        description="a partnership's own rules folder, holding its own `definitions/`, `expectations/`, `sql/`, "
        '`scorecard_templates/` and the `migrations/` for the sources it adds (see "Adding a source or an indicator")',
        json_schema_extra={"default_text": "the project's own"},
    )
    intake_parts: int | None = Field(
        None,
        ge=1,
        description="under Airflow: how many parts of the inbox `partner_intake` processes side by side",
        json_schema_extra=_must("a whole number, 1 or more", default_text="the machine's cores, at most 4"),
    )

    portal_url: str = Field(
        DEFAULT_PORTAL_URL,
        description="the portal's address as users reach it (behind the TLS proxy in production): links in emails",
    )
    portal_secure_cookies: bool = Field(
        True,
        description="portal cookies are sent over https only; set false only for plain http on one machine",
        json_schema_extra=_must("true or false"),
    )
    portal_idle_minutes: float = Field(
        30.0,
        gt=0,
        description="a portal session unused this long ends",
        json_schema_extra=_must("a number of minutes above 0"),
    )
    portal_session_hours: float = Field(
        12.0,
        gt=0,
        description="a portal session ends this long after sign-in, however busy",
        json_schema_extra=_must("a number of hours above 0"),
    )
    portal_lock_after: int = Field(
        6,
        ge=1,
        description="this many wrong passwords in a row lock a portal account until the analyst resets it",
        json_schema_extra=_must("a whole number, 1 or more"),
    )
    portal_link_hours: float = Field(
        72.0,
        gt=0,
        description="how long an emailed one-time set-password link works",
        json_schema_extra=_must("a number of hours above 0"),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # load_settings gathers the environment and .env itself


def setting_names() -> dict[str, str]:
    """``SCORECARD_<FIELD>`` -> field name, for every field of the model."""
    return {PREFIX + name.upper(): name for name in SettingsModel.model_fields}


def officer_names() -> set[str]:
    """``SCORECARD_DATA_OFFICER_<SOURCE>`` for every source of the rules in use."""
    from .sources import load_sources

    return {OFFICER_PREFIX + name.upper() for name in load_sources()}


def _closest(name: str, valid: set[str]) -> str | None:
    starting = sorted(v for v in valid if v.startswith(name) or name.startswith(v))
    if starting:
        return starting[0]
    close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return close[0] if close else None


def _check_names(env: dict[str, str]) -> None:
    names = set(setting_names())
    officers = officer_names() if any(n.startswith(OFFICER_PREFIX) for n in env) else set()
    for name in sorted(env):
        if not name.startswith(PREFIX) or name in names or name in NOT_SETTINGS or name in officers:
            continue
        if name.startswith(TEST_PREFIX):  # the test suite's own (e.g. SCORECARD_TEST_PG_URL)
            continue
        if name.startswith(OFFICER_PREFIX):
            officers = officers or officer_names()
            suggestion = _closest(name, officers)
            valid = f"did you mean {suggestion}?" if suggestion else f"the sources are {', '.join(sorted(officers))}"
            raise ConfigError(f"unknown setting {name}: {valid}")
        suggestion = _closest(name, names | officer_names())
        hint = f"did you mean {suggestion}?" if suggestion else "see `scorecard config` and the README's table"
        raise ConfigError(f"unknown setting {name}: {hint}")


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validation_message(exc: ValidationError, values: dict[str, str]) -> str:
    error = exc.errors()[0]
    field_name = str(error["loc"][0]) if error["loc"] else ""
    name = PREFIX + field_name.upper()
    info = SettingsModel.model_fields.get(field_name)
    extra = info.json_schema_extra if info and isinstance(info.json_schema_extra, dict) else {}
    must = extra.get("must") or error["msg"].lower()
    got = "" if name in SECRETS else f" (got {_shown(values.get(field_name))})"
    hint = f"; {extra['hint']}" if extra.get("hint") else ""
    return f"{name} must be {must}{got}{hint}"


def _check_warehouse_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "SCORECARD_WAREHOUSE_URL is not a database URL: write e.g. "
            "postgresql+psycopg://user:password@host:5432/warehouse or sqlite:////path/warehouse.db"
        ) from None
    driver = parsed.drivername
    if driver == "postgres" or driver.startswith("postgres+") or driver == "postgresql":
        raise ConfigError(
            f"SCORECARD_WAREHOUSE_URL starts with {driver}://: write postgresql+psycopg:// "
            "(PostgreSQL through psycopg 3, the driver installed)"
        )
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"SCORECARD_WAREHOUSE_URL names a database this program cannot use ({driver}): "
            "use postgresql+psycopg:// or sqlite:///"
        ) from None


def _read_key_file(path: Path) -> str | None:
    try:
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ConfigError(f"cannot read the pseudonym key in {path} ({exc.strerror or type(exc).__name__})") from None


def _key(env_key: str | None, key_file: Path, sources: dict[str, str]) -> bytes | None:
    """The variable, else ``$SCORECARD_HOME/pseudonym.key``; both set and different: refused."""
    file_key = _read_key_file(key_file)
    if env_key and file_key and env_key != file_key:
        raise ConfigError(
            f"SCORECARD_PSEUDONYM_KEY differs from the key in {key_file}: children are linked only under "
            "one key; unset SCORECARD_PSEUDONYM_KEY to use the file, or move the file away if the "
            "variable's key is the one this warehouse was loaded with"
        )
    key = env_key or file_key
    if not key:
        return None
    if not env_key:
        sources["SCORECARD_PSEUDONYM_KEY"] = str(key_file)
    if len(key) < MIN_KEY_LENGTH:
        where = "SCORECARD_PSEUDONYM_KEY" if env_key else f"the pseudonym key in {key_file}"
        raise ConfigError(
            f"{where} must be at least {MIN_KEY_LENGTH} characters long (it has {len(key)}); generate one with "
            'python3 -c "import secrets; print(secrets.token_hex(32))" (a warehouse loaded with another key: '
            'see docs/operator-guide.md, "Rotating the pseudonym key")'
        )
    return key.encode("utf-8")


def _split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())


def read_dotenv(path: Path) -> dict[str, str]:
    """A ``.env`` file as python-dotenv reads it: comments, quotes, ``export``, ``${VAR}``."""
    from dotenv import dotenv_values

    if not path.is_file():
        return {}
    return {name: value for name, value in dotenv_values(path, interpolate=True).items() if value is not None}


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default: the process environment) over ``./.env``.

    Raises ``ConfigError`` with one plain-English line for any mistake; see README, "Configuration"."""
    dotenv = read_dotenv(Path.cwd() / ".env")
    given = dict(os.environ if environ is None else environ)
    env = {**dotenv, **given}
    sources = {name: ("environment" if name in given else ".env") for name in env if name.startswith(PREFIX)}
    _check_names(env)
    if sources.get("SCORECARD_RESOURCES") == ".env" and env["SCORECARD_RESOURCES"]:
        raise ConfigError(
            "SCORECARD_RESOURCES is read from the environment only (the rules folder is looked up there, not in "
            ".env): export it instead of setting it in .env"
        )
    fields = setting_names()
    values: dict[str, Any] = {
        field_name: env[name] for name, field_name in fields.items() if env.get(name, "").strip() != ""
    }
    if "smtp_security" in values:
        values["smtp_security"] = values["smtp_security"].strip().lower()
    try:
        model = SettingsModel(**values)
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc, values)) from None
    home = Path(model.home).expanduser().resolve()
    url = model.warehouse_url or f"sqlite:///{home / 'warehouse.db'}"
    _check_warehouse_url(url)
    env_key = model.pseudonym_key.get_secret_value() if model.pseudonym_key else None
    key = _key(env_key, home / "pseudonym.key", sources)
    security = model.smtp_security
    officers = {
        name[len(OFFICER_PREFIX) :].lower(): value
        for name, value in env.items()
        if name.startswith(OFFICER_PREFIX) and value
    }
    mail = MailSettings(
        host=model.smtp_host or None,
        port=model.smtp_port or (465 if security == "ssl" else 587 if security == "starttls" else 25),
        security=security,
        username=model.smtp_user or None,
        password=model.smtp_password.get_secret_value() if model.smtp_password else None,
        sender=model.mail_from,
        pmsg_recipients=_split_list(model.pmsg_to) or (DEFAULT_PMSG_TO,),
        analyst=model.analyst_email or None,
        data_officers=officers,
        deadline_seconds=model.smtp_deadline_seconds,
    )
    return Settings(
        home=home,
        warehouse_url=url,
        pseudonym_key=key,
        reject_threshold=model.reject_threshold,
        suppression_threshold=model.suppression_threshold,
        settle_seconds=model.settle_seconds,
        max_file_mb=model.max_file_mb,
        retention_days=model.retention_days,
        claim_timeout_minutes=model.claim_timeout_minutes,
        file_memory_mb=model.file_memory_mb,
        file_seconds=model.file_seconds,
        mail=mail,
        portal=PortalSettings(
            url=model.portal_url.rstrip("/"),
            secure_cookies=model.portal_secure_cookies,
            idle_minutes=model.portal_idle_minutes,
            session_hours=model.portal_session_hours,
            lock_after=model.portal_lock_after,
            link_hours=model.portal_link_hours,
        ),
        sources=sources,
    )


def describe(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """``scorecard config``: every setting's effective value and where it came from; secrets masked."""
    from sqlalchemy.engine import make_url

    lines = []
    values: dict[str, object] = {
        "SCORECARD_HOME": settings.home,
        "SCORECARD_WAREHOUSE_URL": make_url(settings.warehouse_url).render_as_string(hide_password=True),
        "SCORECARD_PSEUDONYM_KEY": f"set, {len(settings.pseudonym_key)} characters (hidden)"
        if settings.pseudonym_key
        else "NOT SET (intake refuses to run)",
        "SCORECARD_REJECT_THRESHOLD": settings.reject_threshold,
        "SCORECARD_SUPPRESSION_THRESHOLD": settings.suppression_threshold,
        "SCORECARD_SETTLE_SECONDS": settings.settle_seconds,
        "SCORECARD_MAX_FILE_MB": settings.max_file_mb,
        "SCORECARD_FILE_MEMORY_MB": settings.file_memory_mb,
        "SCORECARD_FILE_SECONDS": settings.file_seconds,
        "SCORECARD_RETENTION_DAYS": settings.retention_days,
        "SCORECARD_CLAIM_TIMEOUT_MINUTES": settings.claim_timeout_minutes,
        "SCORECARD_SMTP_HOST": settings.mail.host or "(none: mail is written to the outbox folder)",
        "SCORECARD_SMTP_PORT": settings.mail.port,
        "SCORECARD_SMTP_SECURITY": settings.mail.security,
        "SCORECARD_SMTP_USER": settings.mail.username or "(none)",
        "SCORECARD_SMTP_PASSWORD": "set (hidden)" if settings.mail.password else "(none)",
        "SCORECARD_SMTP_DEADLINE_SECONDS": settings.mail.deadline_seconds,
        "SCORECARD_MAIL_FROM": settings.mail.sender,
        "SCORECARD_PMSG_TO": ", ".join(settings.mail.pmsg_recipients),
        "SCORECARD_ANALYST_EMAIL": settings.mail.analyst or "(none)",
        "SCORECARD_PORTAL_URL": settings.portal.url,
        "SCORECARD_PORTAL_SECURE_COOKIES": settings.portal.secure_cookies,
        "SCORECARD_PORTAL_IDLE_MINUTES": settings.portal.idle_minutes,
        "SCORECARD_PORTAL_SESSION_HOURS": settings.portal.session_hours,
        "SCORECARD_PORTAL_LOCK_AFTER": settings.portal.lock_after,
        "SCORECARD_PORTAL_LINK_HOURS": settings.portal.link_hours,
    }
    from .resources import resource_root

    env = os.environ if environ is None else environ
    values["SCORECARD_RESOURCES"] = resource_root()
    values["SCORECARD_INTAKE_PARTS"] = env.get("SCORECARD_INTAKE_PARTS") or "(the machine's cores, at most 4)"
    for source, address in sorted(settings.mail.data_officers.items()):
        values[OFFICER_PREFIX + source.upper()] = address
    for name, value in values.items():
        lines.append(f"{name}={value}  [{settings.sources.get(name, 'default')}]")
    return lines
