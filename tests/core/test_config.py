from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import ConfigError, Settings, env_name, iter_key_paths, load_settings
from app.core.keys import load_signing_key


class TestDefaults:
    def test_portus_defaults(self) -> None:
        settings = load_settings()
        assert settings.delete.enabled is True
        assert settings.delete.contributors is False
        assert settings.delete.garbage_collector.older_than == 30
        assert settings.registry.jwt_expiration_time.value == 15
        assert settings.user_permission.push_images.policy == "allow-teams"
        assert settings.machine_fqdn.value == "portus.test.lan"
        assert settings.first_user_admin.enabled is True
        assert settings.pagination.per_page == 10

    def test_every_leaf_has_a_portus_style_variable(self) -> None:
        names = {env_name(path) for path in iter_key_paths(Settings)}
        assert "PORTUS_DELETE_GARBAGE_COLLECTOR_OLDER_THAN" in names
        assert "PORTUS_MACHINE_FQDN_VALUE" in names
        assert "PORTUS_EMAIL_FROM" in names
        assert "PORTUS_DATABASE_URL" in names
        assert "PORTUS_NOTIFICATIONS_SECRET" in names


class TestEnvironment:
    def test_nested_names_with_underscores_are_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUS_DELETE_GARBAGE_COLLECTOR_OLDER_THAN", "7")
        monkeypatch.setenv("PORTUS_DELETE_GARBAGE_COLLECTOR_ENABLED", "TRUE")
        monkeypatch.setenv("PORTUS_MACHINE_FQDN_VALUE", "registry.example.org")
        monkeypatch.setenv("PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY", "admin-only")
        settings = load_settings()
        assert settings.delete.garbage_collector.older_than == 7
        assert settings.delete.garbage_collector.enabled is True
        assert settings.machine_fqdn.value == "registry.example.org"
        assert settings.user_permission.push_images.policy == "admin-only"

    def test_variables_that_name_no_key_are_ignored_with_a_warning(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("PORTUS_UI_ENABLED", "false")
        monkeypatch.setenv("PORTUS_UI_DIRECTORY_X", "1")
        monkeypatch.setenv("PORTUS_BUILD_UI", "skip")  # setup.py's, not the service's
        assert load_settings().ui.enabled is False
        assert "name no config key: ['PORTUS_UI_DIRECTORY_X']" in caplog.text

    def test_environment_beats_the_yaml_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "config.yml"
        config.write_text("delete:\n  contributors: true\n  enabled: false\n")
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        monkeypatch.setenv("PORTUS_DELETE_ENABLED", "true")
        settings = load_settings()
        assert settings.delete.contributors is True  # from the file
        assert settings.delete.enabled is True  # the variable wins

    def test_new_keys_follow_the_same_rule(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PORTUS_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("PORTUS_DATABASE_URL", "postgresql+asyncpg://db/portus")
        settings = load_settings()
        assert settings.data_dir == tmp_path
        assert settings.resolved_database_url == "postgresql+asyncpg://db/portus"


class TestPaths:
    def test_relative_paths_of_the_file_are_relative_to_its_folder(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "etc" / "config.yml"
        config.parent.mkdir()
        config.write_text(
            "data_dir: state\nkey_path: keys/k.pem\ncertificate_path: /abs/k.crt\n"
            "ui:\n  directory: ui\nemail:\n  smtp:\n    ca_file: ca.pem\n"
        )
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        monkeypatch.chdir(tmp_path)
        settings = load_settings()
        assert settings.data_dir == tmp_path / "etc" / "state"
        assert settings.key_path == str(tmp_path / "etc" / "keys" / "k.pem")
        assert settings.certificate_path == "/abs/k.crt"
        assert settings.ui.directory == str(tmp_path / "etc" / "ui")
        assert settings.email.smtp.ca_file == str(tmp_path / "etc" / "ca.pem")
        assert settings.email.smtp.ca_path == ""  # empty: the default, not a path

    def test_the_default_data_dir_is_next_to_the_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "etc" / "config.yml"
        config.parent.mkdir()
        config.write_text("{}\n")
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        monkeypatch.chdir(tmp_path)
        assert load_settings().data_dir == tmp_path / "etc" / "data"

    def test_a_relative_variable_is_relative_to_the_working_folder(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "etc" / "config.yml"
        config.parent.mkdir()
        config.write_text("data_dir: state\n")
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        monkeypatch.setenv("PORTUS_DATA_DIR", "here")
        monkeypatch.chdir(tmp_path)
        assert load_settings().data_dir == tmp_path / "here"

    def test_without_a_file_data_is_in_the_working_folder(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.delenv("PORTUS_CONFIG", raising=False)
        monkeypatch.chdir(tmp_path)
        assert load_settings().data_dir == tmp_path / "data"


class TestInvalidValues:
    def test_unknown_push_policy_names_the_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY", "everybody")
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        assert str(excinfo.value).startswith(
            "config error: PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY=everybody: "
            "user_permission.push_images.policy: Input should be "
        )

    def test_negative_expiry_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUS_REGISTRY_JWT_EXPIRATION_TIME_VALUE", "-5")
        with pytest.raises(ConfigError, match=r"registry\.jwt_expiration_time\.value"):
            load_settings()

    def test_garbage_collector_tag_must_be_a_regex(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUS_DELETE_GARBAGE_COLLECTOR_TAG", "^build-(")
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        message = str(excinfo.value)
        assert message.startswith(
            "config error: PORTUS_DELETE_GARBAGE_COLLECTOR_TAG=^build-(: "
            "delete.garbage_collector.tag:"
        )
        assert "not a valid regular expression" in message

    def test_a_bad_variable_is_named_with_its_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUS_DELETE_ENABLED", "maybe")
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        assert str(excinfo.value) == (
            "config error: PORTUS_DELETE_ENABLED=maybe: delete.enabled: "
            "Input should be a valid boolean, unable to interpret input"
        )

    def test_a_check_of_several_keys_names_their_variables_and_hides_secrets(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTUS_METRICS_ENABLED", "true")
        monkeypatch.setenv("PORTUS_METRICS_TOKEN", "short-secret")
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        message = str(excinfo.value)
        assert message.startswith(
            "config error: PORTUS_METRICS_ENABLED=true, PORTUS_METRICS_TOKEN=********: metrics: "
        )
        assert "short-secret" not in message

    def test_a_bad_value_of_the_file_names_the_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "config.yml"
        config.write_text("delete:\n  enabled: maybe\n")
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        assert str(excinfo.value) == (
            f"config error: {config}: delete.enabled: Input should be a valid boolean, "
            "unable to interpret input (got 'maybe')"
        )

    def test_unknown_yaml_key_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "config.yml"
        config.write_text("ldap:\n  hostnme: typo\n")
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        with pytest.raises(ConfigError, match=r"ldap\.hostnme"):
            load_settings()

    def test_the_registrys_config_is_recognised(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        config = tmp_path / "config.yml"
        config.write_text("version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: :5000\n")
        monkeypatch.setenv("PORTUS_CONFIG", str(config))
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        message = str(excinfo.value)
        assert f"{config} looks like the registry's own configuration" in message
        assert "(top-level version, storage, http)" in message
        assert "Extra inputs" not in message

    def test_missing_explicit_config_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUS_CONFIG", "/nonexistent/config.yml")
        with pytest.raises(ConfigError, match="PORTUS_CONFIG"):
            load_settings()

    def test_unreadable_key_names_key_path(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, key_path=str(tmp_path / "missing.pem"))
        with pytest.raises(ConfigError, match=r"^key_path: cannot read"):
            load_signing_key(settings)

    def test_garbage_key_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.pem"
        bad.write_text("not a key")
        with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
            load_signing_key(Settings(data_dir=tmp_path, key_path=str(bad)))

    def test_expiry_never_under_sixty_seconds(self) -> None:
        settings = Settings(registry={"jwt_expiration_time": {"value": 1}})
        assert settings.jwt_expiration_seconds == 60


def test_config_example_documents_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.yml.example holds every key of the tree, at its default, and loads as is."""
    import yaml

    example = Path(__file__).resolve().parents[2] / "config.yml.example"
    data = yaml.safe_load(example.read_text())

    def leaves(node: object, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
        if isinstance(node, dict):
            found: set[tuple[str, ...]] = set()
            for key, value in node.items():
                found |= leaves(value, (*prefix, str(key)))
            return found
        return {prefix}

    assert leaves(data) == set(iter_key_paths(Settings))
    text = example.read_text()
    for path in iter_key_paths(Settings):
        assert env_name(path) in text, f"{env_name(path)} is not mentioned"
    defaults = load_settings()  # the test suite's PORTUS_CONFIG is an empty file
    monkeypatch.setenv("PORTUS_CONFIG", str(example))
    # data_dir: data, next to the file read.
    assert load_settings() == defaults.model_copy(update={"data_dir": example.parent / "data"})
