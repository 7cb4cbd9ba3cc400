from config import IvrError, Settings, get_settings

from .conftest import run_ivr


def test_yaml_defaults_and_nested_env_override(monkeypatch):
    monkeypatch.setenv("IVR_VAD__HANGOVER_MS", "420")
    monkeypatch.setenv("IVR_DATABASE_URL", "postgresql+psycopg://ivr@db/ivr")
    s = Settings()
    assert s.vad.hangover_ms == 420
    assert s.vad.aggressiveness == 2          # the rest of the section still comes from settings.yaml
    assert s.tts.engine == "piper" and s.asr.live_model == "live"
    assert s.db_url == "postgresql+psycopg://ivr@db/ivr"


def test_default_database_is_sqlite_under_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    assert Settings().db_url == f"sqlite:///{tmp_path / 'ivr.sqlite3'}"


def test_bad_value_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("IVR_VAD__AGGRESSIVENESS", "9")
    get_settings.cache_clear()
    try:
        get_settings()
    except IvrError as err:
        assert "vad.aggressiveness" in str(err) and "IVR_VAD__AGGRESSIVENESS" in str(err)
        assert "\n" not in str(err)
    else:
        raise AssertionError("a bad setting was accepted")
    finally:
        get_settings.cache_clear()


def test_cli_refuses_to_start_with_bad_setting():
    r = run_ivr("say", "hello", "-o", "/tmp/x.wav", env={"IVR_TTS__ENGINE": "loudspeaker"})
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "tts.engine" in r.stderr and "Traceback" not in r.stderr
