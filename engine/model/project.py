"""The project: a folder with ``sluis.yaml``, ``flows/*.yaml`` and ``templates/``.

``sluis.yaml`` says where the database is, the default time zone, the customer profile fields,
the datamodel collections, the connections (SFTP, SMTP, mail folders) and the mail and tracking
settings. Secrets are written as ``${VAR}`` and read from the environment when used, never when
the file is validated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.errors import FlowError, InputError, Problem, ProjectError
from engine.model.fields import FieldType
from engine.model.validation import did_you_mean, problems_from
from engine.model.yamlsrc import load

PROJECT_FILE = "sluis.yaml"
BUILTIN_FIELDS: tuple[str, ...] = (
    "system_id",
    "external_id",
    "email",
    "timezone",
    "unsubscribed",
    "bounced",
    "groups",
    "created_at",
    "updated_at",
)
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def resolve_env(value: str, *, what: str = "a setting") -> str:
    """Replace ``${VAR}`` with the environment's value; a missing variable is an error that says
    which variable to set."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ProjectError(
                f"{what} reads ${{{name}}}, but {name} is not set; "
                f"export it in the environment sluis runs in (export {name}=...)"
            )
        return os.environ[name]

    return _ENV_VAR.sub(lookup, value)


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{value}' is not a time zone; use an IANA name such as Europe/Amsterdam or UTC"
        ) from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _profile_type(value: Any) -> Any:
    """``str`` or ``{type: str, index: true}`` (an index makes segments on it fast)."""
    if not isinstance(value, dict):
        return value
    unknown = sorted(set(value) - {"type", "index"})
    if unknown:
        raise ValueError(f"a profile field has 'type' and 'index', not '{unknown[0]}'")
    if "type" not in value:
        raise ValueError("a profile field written as a mapping needs 'type', e.g. {type: str}")
    if not isinstance(value.get("index", False), bool):
        raise ValueError("'index' is true or false")
    return value["type"]


ProfileType = Annotated[FieldType, BeforeValidator(_profile_type)]


class Collection(_Strict):
    """A datamodel collection: records with a key, linked to customers."""

    key: str
    fields: dict[str, FieldType]

    @field_validator("key")
    @classmethod
    def _key_is_field(cls, key: str, info: Any) -> str:
        fields = info.data.get("fields") or {}
        if fields and key not in fields:
            raise ValueError(f"key '{key}' is not one of its fields{did_you_mean(key, fields)}")
        return key


class Connection(_Strict):
    """A connection to the outside world, named in locations (``sftp://NAME/...``), mail and
    HTTP objects. ``oauth2``: client credentials (``token_url``, ``client_id``,
    ``client_secret``, optional ``scope``, ``auth_method``) for APIs at ``base_url``;
    ``bearer``: a fixed ``token`` for APIs at ``base_url`` (``Authorization: Bearer TOKEN``, or
    the bare token in ``token_header``, such as Shopify's ``X-Shopify-Access-Token``)."""

    type: Literal["sftp", "smtp", "folder", "maildir", "oauth2", "bearer"]
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    key_file: str | None = None
    known_hosts: str | None = None
    path: str | None = None
    security: Literal["none", "starttls", "ssl"] = "none"
    timeout: float = 30.0
    max_connections: int = Field(default=4, ge=1, le=64)
    base_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    token: str | None = None
    token_header: str | None = None  # bearer: the header of the raw token instead of Bearer

    @model_validator(mode="after")
    def _http_auth(self) -> Connection:
        needed = {
            "oauth2": ("base_url", "token_url", "client_id", "client_secret"),
            "bearer": ("base_url", "token"),
        }.get(self.type, ())
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"a connection of type {self.type} needs {', '.join(missing)}")
        for name in ("client_secret", "token"):
            value = getattr(self, name)
            if value and not _ENV_VAR.search(value):
                raise ValueError(
                    f"{name}: write the secret as ${{VAR}} and export VAR; secrets do not "
                    "belong in sluis.yaml"
                )
        return self

    def secret(self, name: str) -> str | None:
        """A setting with ``${VAR}`` resolved from the environment."""
        value = getattr(self, name)
        return None if value is None else resolve_env(str(value), what=f"connection {name}")


class SesSettings(_Strict):
    """Amazon SES notifications through SNS: the signing certificate is fetched from its
    https://sns.REGION.amazonaws.com URL unless ``certificates`` names a folder of trusted
    PEM files (no network, and tests)."""

    topic_arns: list[str] = Field(default_factory=list)  # empty: any topic
    certificates: str | None = None


class SendgridSettings(_Strict):
    public_key: str  # the Event Webhook's verification key (base64 DER or PEM); ${VAR} allowed


class MailgunSettings(_Strict):
    signing_key: str  # the HTTP webhook signing key; ${VAR} allowed


class PostmarkSettings(_Strict):
    """Postmark signs nothing: its webhook URL carries basic-auth credentials or a token."""

    username: str | None = None
    password: str | None = None
    token: str | None = None


class ProviderSettings(_Strict):
    ses: SesSettings | None = None
    sendgrid: SendgridSettings | None = None
    mailgun: MailgunSettings | None = None
    postmark: PostmarkSettings | None = None


class MailSettings(_Strict):
    from_: str | None = Field(default=None, alias="from")
    reply_to: str | None = None
    connection: str | None = None
    soft_bounce_limit: int = Field(default=5, ge=1)
    soft_bounce_window: str = "30d"
    providers: ProviderSettings = Field(default_factory=ProviderSettings)

    @field_validator("soft_bounce_window")
    @classmethod
    def _window(cls, value: str) -> str:
        from engine.model.durations import parse_duration

        parse_duration(value)
        return value


class TrackingSettings(_Strict):
    base_url: str | None = None


class HttpSettings(_Strict):
    """Outgoing HTTP (``http-request``, ``api``): ``allow`` lists the local or private targets
    reachable on purpose (``HOST[:PORT]`` or a CIDR network); ``allow_private`` opens every
    private address (but still not link-local/metadata ones) and is meant for demos."""

    allow: list[str] = Field(default_factory=list)
    allow_private: bool = False
    concurrency: int = Field(default=50, ge=1, le=1000)
    max_response_bytes: int = 1_000_000

    @field_validator("allow")
    @classmethod
    def _allow(cls, value: list[str]) -> list[str]:
        from engine.http.allowlist import parse_allowed  # the HTTP package is loaded lazily

        for entry in value:
            parse_allowed(entry)
        return value


class ApiSettings(_Strict):
    """Limits of ``sluis serve`` on what one caller may send (docs/limits.md)."""

    max_body_bytes: int = Field(default=1_000_000, ge=1_000, le=1_000_000_000)
    max_json_depth: int = Field(default=32, ge=2, le=500)
    max_payloads: int = Field(default=1_000, ge=1, le=100_000)
    max_header_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    max_connections: int = Field(default=1_000, ge=1, le=100_000)
    # a SOAP resource (a customer set a client polls) not freed is deleted this long after
    soap_resource_hours: int = Field(default=24, ge=1, le=8_760)


class SoapSettings(_Strict):
    """The SOAP API (``/soap``): ``fields`` maps elements of Deployteq's ``Customer`` (such
    as ``firstname``) to profile fields (``first_name``), beside the default mapping;
    ``campaigns`` and ``mails`` give flows and mail objects (``flow/object``) the numeric
    ids clients call."""

    fields: dict[str, str] = Field(default_factory=dict)
    campaigns: dict[int, str] = Field(default_factory=dict)  # campaignId -> flow
    mails: dict[int, str] = Field(default_factory=dict)  # emailId -> "flow/mail-object"


class ProjectSettings(_Strict):
    database: str = "sqlite:///sluis.db"
    timezone: str = "UTC"
    profile: dict[str, ProfileType] = Field(default_factory=dict)
    datamodel: dict[str, Collection] = Field(default_factory=dict)
    connections: dict[str, Connection] = Field(default_factory=dict)
    mail: MailSettings = Field(default_factory=MailSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    soap: SoapSettings = Field(default_factory=SoapSettings)
    batch_size: int = Field(default=1000, ge=1, le=100_000)

    _indexed: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _profile_indexes(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        profile = data.get("profile") if isinstance(data, dict) else None
        settings = handler(data)
        if isinstance(profile, dict) and isinstance(settings, ProjectSettings):
            settings._indexed = tuple(
                name
                for name, spec in profile.items()
                if isinstance(spec, dict) and spec.get("index") is True
            )
        return settings

    @property
    def indexed_profile(self) -> tuple[str, ...]:
        """The profile fields that say ``index: true``."""
        return self._indexed

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        check_timezone(value)
        return value

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name in BUILTIN_FIELDS:
                raise ValueError(f"'{name}' is a built-in customer field; remove it from profile")
            if not _NAME.match(name):
                raise ValueError(
                    f"field name '{name}' must start with a letter and hold only lowercase "
                    "letters, digits and _"
                )
        return value

    @model_validator(mode="after")
    def _soap_fields(self) -> ProjectSettings:
        for element, name in self.soap.fields.items():
            if name not in self.profile:
                known = ", ".join(self.profile) or "none"
                raise ValueError(
                    f"soap.fields maps '{element}' to '{name}', which is not a profile field; "
                    f"profile fields: {known}"
                )
        return self


class Project:
    """A loaded project: its folder and its validated settings."""

    def __init__(self, root: Path, settings: ProjectSettings) -> None:
        self.root = root.resolve()
        self.settings = settings

    @property
    def flows_dir(self) -> Path:
        return self.root / "flows"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def customer_fields(self) -> tuple[str, ...]:
        return (*BUILTIN_FIELDS, *self.settings.profile)

    @property
    def database_url(self) -> str:
        """``SLUIS_DATABASE_URL`` when set, else the project's; relative SQLite paths are taken
        inside the project folder."""
        url = os.environ.get("SLUIS_DATABASE_URL") or resolve_env(
            self.settings.database, what="database"
        )
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                url = prefix + str(self.root / rest)
        return url

    def flow_files(self) -> list[Path]:
        return sorted(self.flows_dir.glob("*.yaml")) + sorted(self.flows_dir.glob("*.yml"))

    @classmethod
    def empty(cls, root: Path | None = None) -> Project:
        return cls(root or Path.cwd(), ProjectSettings())

    @classmethod
    def load(cls, root: Path) -> Project:
        """Load ``root/sluis.yaml``; every problem is reported at once as a ``FlowError``."""
        file = root / PROJECT_FILE
        if not file.is_file():
            raise ProjectError(
                f"no {PROJECT_FILE} in {root}; run 'sluis init' to make a project, or pass "
                "--project DIR"
            )
        text = file.read_text(encoding="utf-8")
        shown = os.path.relpath(file) if file.is_absolute() else str(file)
        doc = load(text, shown)
        if doc.problems:
            raise FlowError(doc.problems)
        data = doc.value if doc.value is not None else {}
        if not isinstance(data, dict):
            raise FlowError([Problem(shown, 1, 1, f"{PROJECT_FILE} must be a mapping of settings")])
        try:
            settings = ProjectSettings.model_validate(data)
        except ValidationError as exc:
            known = list(ProjectSettings.model_fields)
            raise FlowError(
                problems_from(
                    exc, doc, subject=lambda loc: ("", loc, known if len(loc) == 1 else [], 0)
                )
            ) from None
        return cls(root, settings)


def collection_of(project: Project, name: str) -> Collection:
    """The collection ``name`` of the project's datamodel; ``InputError`` names the ones that
    exist."""
    found = project.settings.datamodel.get(name)
    if found is None:
        known = list(project.settings.datamodel)
        hint = did_you_mean(name, known) or (
            f"; collections: {', '.join(known)}"
            if known
            else "; add it under datamodel in sluis.yaml"
        )
        raise InputError(f"no collection '{name}' in the datamodel{hint}")
    return found


def find_project(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``sluis.yaml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return None
