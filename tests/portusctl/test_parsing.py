"""portusctl's pieces that need no server: key=value arguments, error bodies, tables."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from app.portusctl import cli, config, output, resources
from app.portusctl.client import error_message


class TestPairs:
    def test_split_at_the_first_equals_sign_only(self) -> None:
        assert cli.split_pair("password=a=b==c") == ("password", "a=b==c")
        assert cli.split_pair("description=") == ("description", "")

    @pytest.mark.parametrize("argument", ["password", "=value"])
    def test_not_a_pair(self, argument: str) -> None:
        with pytest.raises(cli.UsageError, match="key=value"):
            cli.split_pair(argument)

    def test_unknown_keys_are_reported_and_left_out(self) -> None:
        err = io.StringIO()
        values = cli.parse_pairs(
            ["name=x", "colour=red", "size=9"], ("name",), ("description",), err=err
        )
        assert values == {"name": "x"}
        assert err.getvalue() == "Ignoring the following keys: colour, size\n"

    def test_missing_keys(self) -> None:
        with pytest.raises(cli.UsageError, match="following keys: email, password"):
            cli.parse_pairs(["username=x"], ("username", "email", "password"))

    def test_booleans_and_ids(self) -> None:
        values = cli.parse_pairs(["use_ssl=yes", "owner_id=3"], (), ("use_ssl", "owner_id"))
        assert values == {"use_ssl": True, "owner_id": 3}
        with pytest.raises(cli.UsageError, match="true or false"):
            cli.parse_pairs(["admin=maybe"], ("admin",))


class TestCommandLine:
    def test_format_is_accepted_after_the_arguments(self) -> None:
        args = cli.build_parser().parse_args(["-q", "get", "users", "3", "-f", "json"])
        assert (args.quiet, args.resource, args.arguments, args.format) == (
            True,
            "users",
            ["3"],
            "json",
        )

    def test_exec_passes_its_options_on(self) -> None:
        args = cli.build_parser().parse_args(["exec", "gc", "--dry-run"])
        assert (args.command, args.arguments) == ("gc", ["--dry-run"])

    def test_usage_errors_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            cli.main(["get"])
        assert exited.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


class TestErrorBodies:
    def test_portus_message(self) -> None:
        assert error_message({"message": "Authentication fails"}) == "Authentication fails"

    def test_field_problems(self) -> None:
        body = {"message": {"name": ["has already been taken"]}}
        assert error_message(body) == {"name": ["has already been taken"]}
        assert error_message({"errors": {"email": ["is invalid"]}}) == {"email": ["is invalid"]}
        assert error_message({"username": ["is taken"], "email": "is bad"}) == {
            "username": ["is taken"],
            "email": ["is bad"],
        }

    def test_field_lines_are_portus(self) -> None:
        lines = output.field_lines({"name": ["is taken", "is short"], "team": ["is unknown"]})
        assert lines == ["- Name: is taken. is short", "- Team: is unknown"]


def test_tables_are_aligned_like_go_tabwriter() -> None:
    text = output.render(("ID", "Name", "Hidden"), [(1, "a-team", False), (22, "b", None)])
    assert text == "ID    Name      Hidden\n1     a-team    false\n22    b\n"


def test_every_synonym_is_unique_and_portus_resources_are_there() -> None:
    names = [s for r in resources.RESOURCES for s in r.synonyms]
    assert len(names) == len(set(names))
    for synonym in ("at", "n", "r", "re", "tag", "t", "u", "application_tokens", "registries"):
        resource = resources.find(synonym)
        assert resource is not None and resource.portus
    assert resources.find("at") is not None
    assert resources.find("at").singular == "application token"  # type: ignore[union-attr]
    assert resources.find("tags").singular == "tag"  # type: ignore[union-attr]


class TestWhereSettingsComeFrom:
    @pytest.fixture(autouse=True)
    def _profiles(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("SERVER", "USER", "TOKEN"):
            monkeypatch.delenv(f"PORTUSCTL_API_{name}", raising=False)
        monkeypatch.delenv("PORTUSCTL_PROFILE", raising=False)
        monkeypatch.setenv("PORTUSCTL_CONFIG", str(tmp_path / "config.json"))
        profiles = {
            "prod": config.Profile(server="https://prod", user="p", token="pt"),
            "test": config.Profile(server="https://test", user="t", token="tt"),
        }
        config.save(config.ConfigFile(current="prod", profiles=profiles))

    @staticmethod
    def settings(*argv: str) -> tuple[str | None, str | None, str | None]:
        args = cli.build_parser().parse_args([*argv, "health"])
        return cli.Context(args, sys.stdout, sys.stderr)._settings()

    def test_the_current_profile(self) -> None:
        assert self.settings() == ("https://prod", "p", "pt")

    def test_a_named_profile_beats_the_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTUSCTL_API_SERVER", "https://elsewhere")
        assert self.settings("-p", "test") == ("https://test", "t", "tt")
        assert self.settings("-p", "test", "-u", "me") == ("https://test", "me", "tt")

    def test_another_server_does_not_get_the_profiles_token(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTUSCTL_API_SERVER", "https://elsewhere")
        assert self.settings() == ("https://elsewhere", None, None)
        assert self.settings("-s", "https://prod") == ("https://prod", "p", "pt")

    def test_an_unknown_profile(self) -> None:
        with pytest.raises(config.ConfigError, match="no profile 'nope'"):
            self.settings("-p", "nope")


class TestIds:
    """IDs go into URL paths: numbers only (a user also by email; `all` refresh tokens)."""

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["get", "users", "../teams"], "'../teams' is not an ID of a user"),
            (["get", "namespaces", "1", "webhooks", "x"], "'x' is not an ID of a namespace"),
            (["delete", "teams", "devs"], "'devs' is not an ID of a team"),
            (["get", "members", "team=devs"], "team must be an ID (a number), not 'devs'"),
        ],
    )
    def test_not_an_id(
        self, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert cli.main(["-s", "http://127.0.0.1:9", "-u", "a", "-t", "b", *argv]) == 2
        assert capsys.readouterr().err == message + "\n"

    def test_emails_and_all(self) -> None:
        users = resources.find("users")
        tokens = resources.find("refresh_tokens")
        assert users is not None and tokens is not None
        assert cli._ident(users, "carol@example.com") == "carol@example.com"
        assert cli._ident(tokens, "all") == "all"


def test_explain_shows_each_action_with_its_keys() -> None:
    members = resources.find("members")
    assert members is not None
    text = resources.explain(members)
    assert "  portusctl get m team=\n" in text  # listed, never fetched one by one
    assert "  portusctl update m <id> team= role=\n" in text
    for resource in resources.RESOURCES:
        assert resources.explain(resource).startswith(f"Resource: {resource.name}\n")
