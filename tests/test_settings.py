"""Settings from the environment: production refuses to start without its secrets,
and with them `check --deploy` is clean."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEY = base64.b64encode(b"k" * 32).decode()
PRODUCTION_ENV = {
    "SSPF_ENV": "production",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + "x7Qp9" * 8,
    "DJANGO_ALLOWED_HOSTS": "sspf.example.se",
    "DATABASE_URL": "postgres://sspf@127.0.0.1:5432/sspf",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "SSPF_FIELD_KEYS": f"2026a:{KEY}",
    "SSPF_INDEX_KEY": KEY,
    "SSPF_AUDIT_KEY": KEY,
    "SSPF_AUDIT_SIGNING_KEY": KEY,
    "SSPF_AUDIT_CHECKPOINT_DIR": "/srv/sspf-checkpoints",
}


def run_manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SSPF_", "DJANGO_"))}
    clean.pop("DATABASE_URL", None)
    clean.pop("CELERY_BROKER_URL", None)
    clean["DJANGO_SETTINGS_MODULE"] = "sspf.settings"
    clean.update(env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV.keys() - {"SSPF_ENV"}))
def test_production_refuses_to_start_without_each_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error:")
    assert missing in lines[0]


def test_production_refuses_a_malformed_key_in_one_line_without_echoing_it():
    env = dict(PRODUCTION_ENV, SSPF_FIELD_KEYS="2026a:not-base64!!")
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Configuration error: SSPF_FIELD_KEYS: the key is not valid base64"
    ]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SSPF_ENV": "prod"}, "SSPF_ENV must be 'development' or 'production' (or unset)"),
        ({"SSPF_ENV": "staging"}, "SSPF_ENV must be 'development' or 'production' (or unset)"),
        ({"DATABASE_URL": "mysqlx://sspf:pw-in-url@db.example.se/sspf"},
         "DATABASE_URL must be a PostgreSQL URL: postgres://user:password@host:5432/name"),
        ({"DATABASE_URL": "mysql://sspf:pw-in-url@db.example.se/sspf"},
         "DATABASE_URL must be a PostgreSQL URL: postgres://user:password@host:5432/name"),
        ({"DATABASE_URL": "postgres://sspf:pw-in-url@db.example.se:port/sspf"},
         "DATABASE_URL must be a PostgreSQL URL: postgres://user:password@host:5432/name"),
        ({"SSPF_AUDIT_CHAINS": "two"}, "SSPF_AUDIT_CHAINS must be a whole number, 1 or more"),
        ({"SSPF_AUDIT_CHAINS": "0"}, "SSPF_AUDIT_CHAINS must be a whole number, 1 or more"),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be a whole number, 1–65535"),
        ({"EMAIL_PORT": "70000"}, "EMAIL_PORT must be a whole number, 1–65535"),
        ({"DJANGO_ALLOWED_HOSTS": ","}, "DJANGO_ALLOWED_HOSTS names no host"),
        ({"DJANGO_ALLOWED_HOSTS": " , ,"}, "DJANGO_ALLOWED_HOSTS names no host"),
    ],
)
def test_a_bad_configuration_value_is_refused_in_one_line(override, message):
    result = run_manage("check", env=dict(PRODUCTION_ENV, **override))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Configuration error: {message}"]
    assert "pw-in-url" not in result.stderr + result.stdout


def test_short_key_is_refused():
    short = base64.b64encode(b"k" * 16).decode()
    result = run_manage("check", env=dict(PRODUCTION_ENV, SSPF_INDEX_KEY=short))
    assert result.returncode != 0
    assert "SSPF_INDEX_KEY: each key must be 32 bytes" in result.stderr
    assert short not in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_turns_debug_off_and_uses_postgres():
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.TIME_ZONE, s.LANGUAGE_CODE)"
    )
    result = run_manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == [
        "False", "django.db.backends.postgresql", "Europe/Stockholm", "sv"
    ]


def test_beat_keeps_its_schedule_in_the_var_folder_it_creates(tmp_path):
    var_dir = tmp_path / "elsewhere" / "var"
    env = {k: PRODUCTION_ENV[k] for k in ("DJANGO_SECRET_KEY", "SSPF_FIELD_KEYS",
                                         "SSPF_INDEX_KEY")}
    code = "from sspf.celery import app; print(app.conf.beat_schedule_filename)"
    result = run_manage("shell", "-c", code, env=dict(env, SSPF_VAR_DIR=str(var_dir)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(var_dir / "celerybeat-schedule")
    assert var_dir.is_dir()


def _migrated_database(var_dir):
    import sqlite3
    from contextlib import closing

    var_dir.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(var_dir / "sspf.sqlite3")) as db, db:
        db.execute("CREATE TABLE django_migrations (id integer, app text, name text)")
        db.execute("INSERT INTO django_migrations VALUES (1, 'sspf', '0001_initial')")
    return var_dir / "sspf.sqlite3"


def test_development_keys_are_created_once_beside_an_empty_database(tmp_path):
    from sspf.keys import development_keys

    (tmp_path / "sspf.sqlite3").touch()
    keys = development_keys(tmp_path, database=tmp_path / "sspf.sqlite3")
    assert (tmp_path / "dev-keys.json").exists()
    assert development_keys(tmp_path, database=tmp_path / "sspf.sqlite3") == keys


def test_keys_added_later_are_added_to_an_existing_development_key_file(tmp_path):
    import json

    from sspf.keys import development_keys

    (tmp_path / "dev-keys.json").write_text(json.dumps({
        "DJANGO_SECRET_KEY": "kept", "SSPF_FIELD_KEYS": "dev1:" + KEY, "SSPF_INDEX_KEY": KEY}))
    keys = development_keys(tmp_path, database=None)
    assert (keys["DJANGO_SECRET_KEY"], keys["SSPF_INDEX_KEY"]) == ("kept", KEY)
    assert len(base64.b64decode(keys["SSPF_AUDIT_KEY"])) == 32
    assert len(base64.b64decode(keys["SSPF_AUDIT_SIGNING_KEY"])) == 32
    assert json.loads((tmp_path / "dev-keys.json").read_text()) == keys
    assert (tmp_path / "dev-keys.json").stat().st_mode & 0o077 == 0


def test_lost_development_keys_are_not_replaced_while_the_database_holds_data(tmp_path):
    var_dir = tmp_path / "var"
    _migrated_database(var_dir)
    result = run_manage("check", env={"SSPF_VAR_DIR": str(var_dir)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: the development key file dev-keys.json is missing but the "
        "development database sspf.sqlite3 beside it already holds data, which new keys "
        "could not open; restore the file (or remove the database to start afresh)"
    ]
    assert not (var_dir / "dev-keys.json").exists()
