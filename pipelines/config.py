"""Settings from the environment (or a ``.env`` file in the working directory).

Only the command line reads the environment; the Airflow DAGs build the same ``Settings``
from connections and variables, so the logic never cares where a value came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REJECT_THRESHOLD = 0.10
DEFAULT_SUPPRESSION_THRESHOLD = 5
DEFAULT_MAX_FILE_MB = 100.0
DEFAULT_RETENTION_DAYS = 400
DEFAULT_CLAIM_TIMEOUT_MINUTES = 60.0
DEFAULT_FILE_MEMORY_MB = 2048.0
DEFAULT_FILE_SECONDS = 600.0
DEFAULT_SMTP_DEADLINE_SECONDS = 60.0


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class FolderNotWritable(ConfigError):
    """A folder the product must write to cannot be written; nothing was processed."""


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
        self.inbox.mkdir(parents=True, exist_ok=True)
        for folder in (self.home, self.archive, self.rejected, self.receipts, self.out, self.outbox, self.processing):
            folder.mkdir(parents=True, exist_ok=True)
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


def _load_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def _split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the documented ``SCORECARD_*`` variables; see README for the full list."""
    env = dict(_load_dotenv(Path.cwd() / ".env"))
    env.update(os.environ if environ is None else environ)
    home = Path(env.get("SCORECARD_HOME") or "./var").expanduser().resolve()
    url = env.get("SCORECARD_WAREHOUSE_URL") or f"sqlite:///{home / 'warehouse.db'}"
    key = env.get("SCORECARD_PSEUDONYM_KEY")
    try:
        threshold = float(env.get("SCORECARD_REJECT_THRESHOLD", DEFAULT_REJECT_THRESHOLD))
        suppression = int(env.get("SCORECARD_SUPPRESSION_THRESHOLD", DEFAULT_SUPPRESSION_THRESHOLD))
        port = int(env.get("SCORECARD_SMTP_PORT", "0") or 0)
        settle = float(env.get("SCORECARD_SETTLE_SECONDS", "5"))
        max_file_mb = float(env.get("SCORECARD_MAX_FILE_MB", DEFAULT_MAX_FILE_MB))
        retention = int(env.get("SCORECARD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        claim_timeout = float(env.get("SCORECARD_CLAIM_TIMEOUT_MINUTES", DEFAULT_CLAIM_TIMEOUT_MINUTES))
        file_memory = float(env.get("SCORECARD_FILE_MEMORY_MB", DEFAULT_FILE_MEMORY_MB))
        file_seconds = float(env.get("SCORECARD_FILE_SECONDS", DEFAULT_FILE_SECONDS))
        mail_deadline = float(env.get("SCORECARD_SMTP_DEADLINE_SECONDS", DEFAULT_SMTP_DEADLINE_SECONDS))
    except ValueError as exc:
        raise ConfigError(f"a numeric SCORECARD_ setting is not a number: {exc}") from None
    security = (env.get("SCORECARD_SMTP_SECURITY") or "none").lower()
    if security not in {"none", "starttls", "ssl"}:
        raise ConfigError("SCORECARD_SMTP_SECURITY must be none, starttls or ssl")
    officers = {
        name[len("SCORECARD_DATA_OFFICER_") :].lower(): value
        for name, value in env.items()
        if name.startswith("SCORECARD_DATA_OFFICER_") and value
    }
    mail = MailSettings(
        host=env.get("SCORECARD_SMTP_HOST") or None,
        port=port or (465 if security == "ssl" else 587 if security == "starttls" else 25),
        security=security,
        username=env.get("SCORECARD_SMTP_USER") or None,
        password=env.get("SCORECARD_SMTP_PASSWORD") or None,
        sender=env.get("SCORECARD_MAIL_FROM") or "scorecard@lscp.invalid",
        pmsg_recipients=_split_list(env.get("SCORECARD_PMSG_TO")) or ("pmsg@lscp.invalid",),
        analyst=env.get("SCORECARD_ANALYST_EMAIL") or None,
        data_officers=officers,
        deadline_seconds=mail_deadline,
    )
    return Settings(
        home=home,
        warehouse_url=url,
        pseudonym_key=key.encode("utf-8") if key else None,
        reject_threshold=threshold,
        suppression_threshold=suppression,
        settle_seconds=settle,
        max_file_mb=max_file_mb,
        retention_days=retention,
        claim_timeout_minutes=claim_timeout,
        file_memory_mb=file_memory,
        file_seconds=file_seconds,
        mail=mail,
    )
