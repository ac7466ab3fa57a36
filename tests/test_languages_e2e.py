"""Languages end to end, through the real Application and the Bot API stand-in: a German speaker
in Berlin is coached in German with 112 and 116117, /language switches everything, the command
menu is set per language, and `coach simulate --lang X` replays in each language."""

from __future__ import annotations

import asyncio
import io

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from coach.content.languages import LANGUAGES
from coach.simulate import HOME_ZONES, JOURNEYS, JourneyRunner
from tests.support.bot_harness import USER_ID, BotHarness

URGENT_IN_GERMAN = [
    "Nichts davon",  # emergency signs
    "Unterer Rücken",
    "Heute",
    "Heben oder Bücken",
    "6",
    "Fieber, erhöhte Temperatur oder Schüttelfrost",  # a same-day-doctor sign
]


async def _first_contact(bot: BotHarness, language_code: str) -> list[str]:
    """/start from a Telegram app set to `language_code`; the texts the bot sent back."""
    before = len(bot.messages())
    bot.api.user_sends_text(USER_ID, "/start", language_code=language_code)
    bot.injected += 1
    await bot.settled()
    return [m.text or "" for m in bot.messages()[before:]]


async def test_a_german_speaker_in_berlin_gets_german_texts_and_112_and_116117(
    bot: BotHarness,
) -> None:
    welcome = "\n".join(await _first_contact(bot, "de-DE"))
    assert "Ich stelle keine Diagnose" in welcome
    assert "Sind Sie einverstanden?" in welcome
    await bot.tap("Einverstanden")
    zone_set = await bot.tap("Deutschland")
    assert "Ihre Notrufnummer dort ist die 112" in (zone_set[0].text or "")
    replies = await bot.tap("19:00")
    assert "Tägliche Nachfrage um 19:00 (Europe/Berlin)" in (replies[0].text or "")
    assert "Haben Sie gerade eines davon?" in (replies[-1].text or "")
    advice = "\n".join(m.text or "" for m in await bot.symptom_check(URGENT_IN_GERMAN))
    assert "Bitte lassen Sie sich noch heute ärztlich untersuchen" in advice
    assert "ärztliche Bereitschaftsdienst unter 116117" in advice
    assert "rufen Sie 112 an" in advice
    assert "Fieber, erhöhte Temperatur oder Schüttelfrost" in advice
    assert "Please" not in advice and "doctor" not in advice
    # The page for the doctor is in German too (read back from the PDF).
    await bot.say("/report")
    pdf = bot.api.messages_to(USER_ID, methods=["sendDocument"])[-1].file_bytes or b""
    page = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Für Ihre Ärztin / Ihren Arzt: Rückenschmerzen, Zusammenfassung" in page
    assert "nach Heben oder Bücken" in page
    assert "heute zum Arzt. Begründung: Fieber, erhöhte Temperatur oder Schüttelfrost" in page
    # Typed words are read with the German lexicon: an emergency sign in German is asked about.
    replies = await bot.say("Ich kann seit heute Morgen nicht pinkeln")
    asked = "\n".join(m.text or "" for m in replies)
    assert "neue Probleme beim Wasserlassen" in asked
    # Words of crisis in German bring crisis support in German, with Germany's crisis line.
    crisis = "\n".join(m.text or "" for m in await bot.say("ich will nicht mehr leben"))
    assert "Sie müssen damit nicht allein sein" in crisis
    assert "TelefonSeelsorge unter 0800 111 0 111" in crisis
    with bot.coach.engine.connect() as db:
        row = db.execute(sa.text("select language, emergency_number from person")).one()
    assert tuple(row) == ("de", "112")


async def test_an_english_speaker_in_london_keeps_english_and_999_and_111(bot: BotHarness) -> None:
    await _first_contact(bot, "en-GB")
    await bot.tap("I agree")
    replies = await bot.tap("UK (London)")
    assert "999" in (replies[0].text or "")
    await bot.tap("19:00")
    advice = await bot.symptom_check(
        ["None of these", "Lower back", "Today", "Lifting or bending", "6", "Fever"]
    )
    text = "\n".join(m.text or "" for m in advice)
    assert "NHS 111 (call 111 or go to 111.nhs.uk)" in text


async def test_language_command_switches_every_text_and_the_waiting_question(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(["None of these", "Lower back"])  # the onset question waits
    menu = await bot.say("/language")
    assert "Which language would you like me to use?" in (menu[0].text or "")
    assert {label for label, _ in menu[0].buttons()} == {
        "English",
        "Español",
        "Deutsch",
        "Français",
    }
    replies = await bot.tap("Français", message=menu[0])
    text = "\n".join(m.text or "" for m in replies)
    assert text.startswith("Désormais, je vous écris en français.")
    # The question asked before is shown again, in French, buttons too.
    assert "Quand est-ce que ça a commencé ?" in text
    assert "Aujourd'hui" in {label for m in replies for label, _ in m.buttons()}
    replies = await bot.tap("Aujourd'hui")
    assert "Qu'est-ce qui l'a déclenché ?" in (replies[-1].text or "")
    help_text = (await bot.say("/help"))[0].text or ""
    assert "/language changer de langue" in help_text
    settings = await bot.say("/settings")
    labels = {label for m in settings for label, _ in m.buttons()}
    assert "Changer de langue" in labels
    replies = await bot.tap("Changer de langue")
    replies = await bot.tap("Español")
    assert "A partir de ahora te escribo en español." in (replies[0].text or "")


async def test_language_before_consent_restarts_onboarding_in_that_language(
    bot: BotHarness,
) -> None:
    await _first_contact(bot, "en")
    await bot.say("/language")
    replies = await bot.tap("Español")
    text = "\n".join(m.text or "" for m in replies)
    assert text.startswith("A partir de ahora te escribo en español.")
    assert "No hago diagnósticos" in text and "¿Estás de acuerdo?" in text
    replies = await bot.tap("Estoy de acuerdo")
    assert "¿Dónde estás?" in (replies[-1].text or "")


async def test_command_menus_are_set_for_every_language(bot: BotHarness) -> None:
    calls = bot.api.calls_to("setMyCommands")
    by_language = {call.get("language_code"): call["commands"] for call in calls}
    assert set(by_language) == {None, *LANGUAGES}
    described = {
        code: {c["command"]: c["description"] for c in commands}
        for code, commands in by_language.items()
    }
    assert described["de"]["language"] == "Sprache ändern"
    assert described["es"]["checkin"] == "Responder la pregunta diaria"
    assert described["fr"]["emergency"] == "Signes d'alerte et numéro"
    assert described[None] == described["en"]
    assert described["en"]["language"] == "Change language"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["Good morning. Day 2 of your plan.", "999"]),
        ("es", ["Buenos días. Día 2 de tu plan.", "112"]),
        ("de", ["Guten Morgen. Tag 2 Ihres Plans.", "112"]),
        ("fr", ["Bonjour. Jour 2 de votre plan.", "112"]),
    ],
)
def test_coach_simulate_replays_in_each_language(
    tmp_path: object, language: str, expected: list[str]
) -> None:
    journey = next(j for j in JOURNEYS if j.name == "improving")
    runner = JourneyRunner(journey, tmp_path, language=language)  # type: ignore[arg-type]
    transcript = "\n".join(asyncio.run(runner.run()).lines)
    for text in expected:
        assert text in transcript
    if language in HOME_ZONES:
        assert HOME_ZONES[language] in transcript
    assert "episode" in transcript.splitlines()[-1]


async def test_a_languages_reader_starts_building_when_its_first_person_is_met(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers of languages other than the default are not built at start-up (a burst of
    processor for everyone); the first person of a language starts theirs in the background,
    so it is ready before they type."""
    from coach.clinical import understanding

    monkeypatch.setattr(understanding, "_readers", {})
    monkeypatch.setattr(understanding, "_preparing", set())
    spanish = bot.coach.content.translations["es"].lexicon
    assert spanish is not None
    await _first_contact(bot, "es-ES")
    for _ in range(200):
        if spanish.fingerprint() in understanding._readers:
            break
        await asyncio.sleep(0.05)
    assert spanish.fingerprint() in understanding._readers, "no reader built for Spanish"
