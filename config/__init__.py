"""Settings: YAML defaults in config/settings.yaml, overridden by IVR_* environment variables."""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, IPvAnyAddress, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, YamlConfigSettingsSource

CONFIG_DIR = Path(__file__).parent


class IvrError(Exception):
    """An error the user can fix; the CLI prints it as one line."""


class AsrSettings(BaseModel):
    engine: Literal["whisper", "vosk"] = "whisper"
    live_model: str = "live"
    accurate_model: str = "accurate"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"
    cpu_threads: int = Field(2, ge=1, le=256)
    workers: int = Field(2, ge=1, le=64)
    language: str = "en"
    vosk_model: str = ""
    min_window_s: float = Field(10.0, ge=1.0, le=30.0)
    whisper_prompt_hints: list[str] = ["intent"]   # kinds of answer Whisper is told the phrases of
    models: dict[str, str] = {"zh": "accurate"}    # live model of a language other than `language` (multilingual)
    min_windows_s: dict[str, Annotated[float, Field(ge=1.0, le=30.0)]] = {"zh": 6.0}  # min_window_s of such a language


class VadSettings(BaseModel):
    aggressiveness: int = Field(2, ge=0, le=3)
    frame_ms: Literal[20] = 20             # calls carry 20 ms frames
    start_window_ms: int = Field(300, ge=20, le=2000)
    min_voiced_ms: int = Field(160, ge=20, le=2000)
    hangover_ms: int = Field(400, ge=60, le=5000)
    speculate_ms: int = Field(60, ge=20, le=5000)
    early_end_ms: int = Field(200, ge=0, le=5000)
    preroll_ms: int = Field(300, ge=0, le=2000)
    max_utterance_s: float = Field(20.0, gt=0.5, le=120)
    no_input_s: float = Field(6.0, gt=0, le=120)
    energy_floor_dbfs: float = Field(-50.0, ge=-96, le=0)


class TtsVoice(BaseModel):
    """The voice of one more language (tts.languages)."""
    engine: Literal["piper", "espeak", "edge", "kokoro"] = "espeak"
    fallback_engine: Literal["piper", "espeak", "kokoro"] = "espeak"
    piper_voice: str = ""
    espeak_voice: str = ""
    edge_voice: str = ""
    kokoro_voice: str = ""


class TtsSettings(BaseModel):
    engine: Literal["piper", "espeak", "edge"] = "piper"
    voice: str = ""
    fallback_engine: Literal["piper", "espeak"] = "piper"
    edge_timeout_s: float = Field(3.0, gt=0, le=60)
    piper_voice: str = "en_US-joe-medium"
    espeak_voice: str = "en-us"
    edge_voice: str = "en-US-AriaNeural"
    cpu_threads: int = Field(0, ge=0, le=256)   # Piper's inference threads; 0: onnxruntime's default (every core)
    languages: dict[str, TtsVoice] = {"zh": TtsVoice(engine="kokoro", fallback_engine="kokoro", kokoro_voice="jf_alpha",
                                                     espeak_voice="cmn-latn-pinyin", edge_voice="zh-CN-XiaoxiaoNeural")}


class TelephonySettings(BaseModel):
    user: str = "bank"                     # calls to sip:<user>@host are answered; others get 404
    language_users: dict[str, str] = {"bank-zh": "zh"}   # more SIP users, each answered in its language
    agent_uri: str = "sip:agent@127.0.0.1:5070"
    rtp_port: int = Field(40000, ge=1024, le=65000)
    rtp_port_range: int = Field(200, ge=8, le=20000)
    max_calls: int = Field(4, ge=1, le=4)  # the pjsua2-python wheel is built with PJSUA_MAX_CALLS = 4
    rtp_timeout_s: float = Field(30.0, gt=0)
    drain_timeout_s: float = Field(60.0, ge=0)
    node: str = ""                         # this endpoint's name, stored on each call; empty: <hostname>:<sip port>
    registrar: str = ""                    # e.g. sip:pbx.example.bank; empty: no registration
    trusted_sources: list[str] = []        # "ip" or "ip:port" new INVITEs may come from (a dispatcher, a trunk); []: any
    username: str = ""
    password: str = ""


class ClusterSettings(BaseModel):
    endpoints: int = Field(2, ge=1, le=64)          # `ivr serve` processes behind Kamailio on this host
    host: str = "127.0.0.1"                         # the address every process binds
    sip_port: int = Field(5060, ge=1, le=65535)     # Kamailio's public SIP port (UDP and TCP)
    endpoint_sip_port: int = Field(5070, ge=1024, le=65000)  # endpoint i listens on endpoint_sip_port + i
    metrics_port: int = Field(9100, ge=1024, le=65000)       # Kamailio; +1 analyzer, +2 console, +10+i endpoint i
    console_port: int = Field(8000, ge=1, le=65535)
    algorithm: Literal["call-load", "round-robin"] = "call-load"
    threads_per_endpoint: int = Field(0, ge=0, le=64)       # inference threads per endpoint; 0: cores / endpoints
    postgres_port: int = Field(55432, ge=1024, le=65535)    # the local PostgreSQL `ivr cluster` may start
    media_relay: bool = True                        # RTP through rtpengine, strict source (no RTP injection)
    trunks: list[IPvAnyAddress] = []                # the bank's PBX / SIP trunk addresses: not rate-limited
    rate_limit: int = Field(30, ge=2, le=100000)    # requests per 2 s from any other source before it is banned
    ban_s: int = Field(300, ge=1, le=86400)         # how long a flooding or scanning source is ignored


class AnalyticsSettings(BaseModel):
    transcribe: bool = True                # re-transcribe recordings with asr.accurate_model
    cpu_threads: int = Field(1, ge=1, le=256)
    nice: int = Field(19, ge=0, le=19)
    lease_s: float = Field(120.0, ge=5, le=86400)
    max_attempts: int = Field(3, ge=1, le=100)
    retry_s: float = Field(30.0, ge=0, le=86400)
    poll_s: float = Field(1.0, gt=0, le=3600)


class ConsoleSettings(BaseModel):
    timezone: str = "UTC"                  # the bank's time zone: every time the console shows
    session_idle_min: float = Field(30.0, gt=0, le=1440)
    session_max_h: float = Field(12.0, gt=0, le=168)
    lockout_failures: int = Field(5, ge=1, le=100)
    lockout_min: float = Field(15.0, gt=0, le=1440)
    page_size: int = Field(50, ge=5, le=500)
    secure_cookies: bool = False           # true behind TLS: the session cookie is sent over HTTPS only

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name like Europe/London)") from None
        return value


class MonitoringSettings(BaseModel):
    metrics_port: int = Field(0, ge=0, le=65535)   # Prometheus exporter of this process; 0: off
    metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IVR_", env_nested_delimiter="__", yaml_file=CONFIG_DIR / "settings.yaml", extra="forbid"
    )
    data_dir: Path = Path("./var")
    database_url: str = ""
    languages: list[str] = ["en", "zh"]    # languages a call may be served in; the first is the default
    asr: AsrSettings = AsrSettings()
    vad: VadSettings = VadSettings()
    tts: TtsSettings = TtsSettings()
    telephony: TelephonySettings = TelephonySettings()
    cluster: ClusterSettings = ClusterSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    console: ConsoleSettings = ConsoleSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ivr.sqlite3').resolve()}"


class _Yaml11SafeLoader(yaml.SafeLoader):
    """YAML where only true/false are booleans: `on:`, `yes`, `no` stay strings in flows and intents."""


_Yaml11SafeLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Yaml11SafeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list(_first))


def load_yaml(path: Path, what: str):
    """Read a config YAML file; any problem becomes one IvrError line naming the file."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Yaml11SafeLoader)
    except OSError as err:
        raise IvrError(f"{path}: cannot read {what} ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise IvrError(f"{path}: not valid YAML: {' '.join(str(err).split())[:160]}") from None


def _first_error(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    env = "IVR_" + "__".join(str(p) for p in e["loc"]).upper()
    return f"invalid setting {where} ({env}): {e['msg']}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate settings once; a bad value raises IvrError with one clear line."""
    try:
        return Settings()
    except ValidationError as err:
        raise IvrError(_first_error(err)) from None
    except ValueError as err:  # e.g. malformed JSON in a nested env override
        raise IvrError(f"invalid setting: {str(err).splitlines()[0]}") from None


def model_cache() -> Path:
    """Where models joined from their PyPI parts are kept, once per machine and user (`IVR_MODEL_CACHE`, else
    ~/.cache/bank-ivr): every data dir links to them instead of holding its own copy of hundreds of MB."""
    return Path(os.environ.get("IVR_MODEL_CACHE") or Path.home() / ".cache" / "bank-ivr")
