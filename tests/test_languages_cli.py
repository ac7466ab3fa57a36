"""The `coach` command and languages, in a subprocess as an operator runs it: `coach simulate
--lang de` replays in German, and a translation that lacks an English text stops start-up with
one line naming the file and the entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.test_operator_startup import ROOT, _assert_one_line, _coach


def test_coach_simulate_lang_de_replays_in_german_in_berlin(tmp_path: Path) -> None:
    result = _coach(tmp_path, "simulate", "--lang", "de", "emergency_day4")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Zeitzone: Europe/Berlin. Ihre Notrufnummer dort ist die 112." in out
    assert "Guten Morgen. Tag 2 Ihres Plans." in out
    assert "Rufen Sie jetzt 112 an, oder gehen Sie in die nächste Notaufnahme." in out


def test_an_unknown_language_is_refused_by_the_command(tmp_path: Path) -> None:
    result = _coach(tmp_path, "simulate", "--lang", "it")
    assert result.returncode == 2
    assert "--lang" in result.stderr and "'it'" in result.stderr


def test_a_translation_missing_a_text_is_one_line_naming_the_file_and_the_entry(
    tmp_path: Path,
) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    path = content / "es" / "coach.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["advice"]["emergency"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = _coach(tmp_path, "simulate", "recovery", COACH_CONTENT_DIR=str(content))
    line = _assert_one_line(result.returncode, result.stdout, result.stderr, 2, str(path))
    assert "advice.emergency" in line
