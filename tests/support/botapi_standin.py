"""A fake Telegram Bot API server for tests and benchmarks, served on loopback.

The stand-in speaks the Bot API's HTTP dialect closely enough for the real
python-telegram-bot client to run against it unmodified::

    async with BotApiStandIn() as api:
        bot = telegram.Bot(api.token, base_url=api.base_url)  # == f"{api.root_url}/bot"
        api.user_sends_text(42, "/start")
        ...
        messages = await api.wait_for_messages(42, 1)

What it does:

* answers ``<root_url>/bot<token>/<method>`` (GET or POST; parameters as query string, JSON
  body, ``application/x-www-form-urlencoded`` or ``multipart/form-data``) with
  ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``;
* keeps an update queue with Telegram's ``getUpdates`` offset/confirmation semantics and
  long polling (the wait is capped by ``max_long_poll`` so tests stay fast);
* records everything the bot does (:attr:`BotApiStandIn.sent`, ``calls``, ``commands``,
  ``callback_answers``, ...) and lets tests wait for it without sleeping;
* behaves like Telegram where bots commonly get it wrong: ``parse_mode`` markup is checked
  ("can't parse entities"), texts must be 1-4096 characters, ``callback_data`` must be
  1-64 bytes, edits that change nothing answer "message is not modified", callback queries can
  be answered once, ``getUpdates`` conflicts with an active webhook or a concurrent poll;
* injects faults: error answers (429 with ``retry_after``, 403, 400, 500 ...), slow answers,
  dropped connections, a global rate limit and blocked chats.

Not emulated: files download, inline mode, payments, message entities in returned messages
(formatting is stripped from the returned ``text``), and filtering by ``allowed_updates``
(it is accepted and recorded only).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

__all__ = [
    "BOT_FIRST_NAME",
    "BOT_ID",
    "BOT_USERNAME",
    "DEFAULT_TOKEN",
    "SECRET_TOKEN_HEADER",
    "BotApiStandIn",
    "CallbackAnswer",
    "SentMessage",
    "UploadedFile",
    "post_update_to_webhook",
    "render_text",
    "utf16_len",
]

JSONDict = dict[str, Any]
MethodHandler = Callable[[JSONDict], Awaitable[Any]]

BOT_ID = 7000001
BOT_USERNAME = "recovery_coach_test_bot"
BOT_FIRST_NAME = "Recovery Coach"
DEFAULT_TOKEN = f"{BOT_ID}:AAH-StandInTokenForRecoveryCoachTests"
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"

_DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request: injected error",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: POLL_CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# Parameters whose form values are plain strings; every other form value is JSON decoded
# (python-telegram-bot JSON-encodes everything that is not a str: ints, bools, dicts, lists).
_STRING_PARAMS = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "emoji",
        "inline_message_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "query",
        "secret_token",
        "short_description",
        "text",
        "title",
        "url",
    }
)
# Parameters that are JSON objects/arrays; in a JSON body they may still arrive as JSON strings.
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "media",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_ENTITY_RE = re.compile(
    r"(?<![A-Za-z0-9_/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z][A-Za-z0-9_]{2,31})?(?![A-Za-z0-9_/@])"
)


# --------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field_name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent or changed (sendMessage, editMessageText,
    editMessageReplyMarkup, sendDocument, sendPhoto).

    ``text`` is what the bot sent (for sendDocument and sendPhoto: the caption; for
    editMessageReplyMarkup: the message's current text) including its markup; ``rendered_text``
    is the text as Telegram shows it, with ``parse_mode`` markup removed.
    """

    chat_id: int
    message_id: int
    text: str | None
    reply_markup: JSONDict | None
    method: str
    at: float
    parse_mode: str | None = None
    rendered_text: str | None = None
    filename: str | None = None
    file_bytes: bytes | None = None
    params: JSONDict = field(default_factory=dict, repr=False, compare=False)

    def buttons(self) -> list[tuple[str, str | None]]:
        """``(text, callback_data)`` for every inline keyboard button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(str(b.get("text", "")), b.get("callback_data")) for row in rows for b in row]

    def callback_data(self) -> list[str]:
        """All ``callback_data`` values of the inline keyboard, in order."""
        return [data for _, data in self.buttons() if data is not None]

    def button_data(self, label: str) -> str:
        """The ``callback_data`` of the first button whose text contains ``label``."""
        for text, data in self.buttons():
            if label in text and data is not None:
                return data
        raise AssertionError(
            f"no callback button containing {label!r} in message {self.message_id} to chat "
            f"{self.chat_id}; buttons: {self.buttons()!r}"
        )


@dataclass(frozen=True)
class CallbackAnswer:
    """One answerCallbackQuery call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    at: float


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None


@dataclass
class _StoredMessage:
    payload: JSONDict
    from_bot: bool
    raw_text: str | None = None
    parse_mode: str | None = None


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class _EntityError(ValueError):
    pass


# --------------------------------------------------------------------------------------------
# Formatting (parse_mode) checks, approximating Telegram's parser
# --------------------------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "tg-time",
        "u",
    }
)
_HTML_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "[": "TextUrl",
}


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for lengths and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _render_html(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "<":
            end = text.find(">", i + 1)
            if end < 0:
                raise _EntityError(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
            if text.startswith("</", i):
                name = text[i + 2 : end].strip().lower()
                if not stack:
                    raise _EntityError(
                        f'Unexpected end tag "{name}" at byte offset {_byte_offset(text, i)}'
                    )
                if stack[-1][0] != name:
                    raise _EntityError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "
                        f'"</{stack[-1][0]}>", found "</{name}>"'
                    )
                stack.pop()
            else:
                inner = text[i + 1 : end].rstrip("/").strip()
                name = inner.split(None, 1)[0].lower() if inner else ""
                if name not in _HTML_TAGS:
                    raise _EntityError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                    )
                stack.append((name, i))
            i = end + 1
        elif c == "&":
            m = _HTML_ENTITY_RE.match(text, i)
            if m is None:
                out.append(c)
                i += 1
                continue
            named, dec, hexa = m.groups()
            if named:
                out.append(_HTML_NAMED[named])
            else:
                code = int(dec) if dec else int(hexa, 16)
                out.append(chr(code) if 0 < code <= 0x10FFFF else "\ufffd")
            i = m.end()
        else:
            out.append(c)
            i += 1
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out)


def _find_closing(text: str, start: int, closing: str) -> int:
    """Index of the next unescaped ``closing`` at or after ``start``, or -1."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(closing, i):
            return i
        i += 1
    return -1


def _unescape(text: str) -> str:
    return re.sub(r"\\([\x01-\x7e])", r"\1", text)


def _render_markdown_v2(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i, n = 0, len(text)

    def toggle(marker: str, at: int) -> None:
        if stack and stack[-1][0] == marker:
            stack.pop()
        elif any(m == marker for m, _ in stack):
            top, top_at = stack[-1]
            raise _EntityError(
                f"Can't find end of {_MDV2_NAMES[top]} entity at byte offset "
                f"{_byte_offset(text, top_at)}"
            )
        else:
            stack.append((marker, at))

    while i < n:
        c = text[i]
        line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\":
            if i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                out.append(text[i + 1])
                i += 2
            else:
                out.append(c)
                i += 1
        elif c == "`":
            if text.startswith("```", i):
                end = _find_closing(text, i + 3, "```")
                if end < 0:
                    raise _EntityError(
                        f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}"
                    )
                body = text[i + 3 : end]
                if "\n" in body:
                    first, rest = body.split("\n", 1)
                    if first and " " not in first:
                        body = rest
                out.append(_unescape(body))
                i = end + 3
            else:
                end = _find_closing(text, i + 1, "`")
                if end < 0:
                    raise _EntityError(
                        f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}"
                    )
                out.append(_unescape(text[i + 1 : end]))
                i = end + 1
        elif c in "*~":
            if c == "*" and line_start and text.startswith("**>", i):
                i += 3
                continue
            toggle(c, i)
            i += 1
        elif c == "_":
            marker = "__" if text.startswith("__", i) else "_"
            toggle(marker, i)
            i += len(marker)
        elif c == "|" and text.startswith("||", i):
            toggle("||", i)
            i += 2
        elif c == "[" or (c == "!" and text.startswith("![", i)):
            stack.append(("[", i))
            i += 1 if c == "[" else 2
        elif c == "]" and stack and stack[-1][0] == "[":
            start = stack.pop()[1]
            if not text.startswith("(", i + 1):
                raise _EntityError(
                    f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, start)}"
                )
            end = _find_closing(text, i + 2, ")")
            if end < 0:
                raise _EntityError(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, i + 2)}"
                )
            i = end + 1
        elif c == ">" and line_start:
            i += 1
        elif c in _MDV2_RESERVED:
            raise _EntityError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            out.append(c)
            i += 1
    if stack:
        marker, at = stack[-1]
        raise _EntityError(
            f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset "
            f"{_byte_offset(text, at)}"
        )
    return "".join(out)


def _render_markdown(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)

    def unclosed(at: int) -> _EntityError:
        return _EntityError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, at)}"
        )

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
        elif c in "*_":
            end = text.find(c, i + 1)
            if end < 0:
                raise unclosed(i)
            out.append(text[i + 1 : end])
            i = end + 1
        elif c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise unclosed(i)
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
        elif c == "[":
            end = text.find("]", i + 1)
            if end < 0:
                raise unclosed(i)
            out.append(text[i + 1 : end])
            if text.startswith("(", end + 1):
                close = text.find(")", end + 2)
                if close < 0:
                    raise unclosed(i)
                i = close + 1
            else:
                i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def render_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram would display for ``text`` sent with ``parse_mode``.

    Raises ``ValueError`` with Telegram's wording (without the "Bad Request: can't parse
    entities: " prefix) when the markup is invalid.
    """
    mode = (parse_mode or "").lower()
    if not mode:
        return text
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    raise ValueError(f"unsupported parse_mode {parse_mode!r}")


# --------------------------------------------------------------------------------------------
# Parameter parsing helpers
# --------------------------------------------------------------------------------------------


def _coerce_form_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _coerce_json_value(key: str, value: Any) -> Any:
    if key in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_int(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _ApiError(400, f"Bad Request: invalid {name} specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Bad Request: invalid {name} specified") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _error_body(status: int, description: str, retry_after: int | None = None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if status in _DEFAULT_DESCRIPTIONS:
        return _DEFAULT_DESCRIPTIONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


async def post_update_to_webhook(
    url: str, update: JSONDict, secret_token: str | None = None, *, timeout: float = 10.0
) -> int:
    """POST ``update`` as JSON to a bot's webhook like Telegram does; returns the HTTP status.

    ``secret_token`` is sent in the ``X-Telegram-Bot-Api-Secret-Token`` header when given.
    """
    headers = {SECRET_TOKEN_HEADER: secret_token} if secret_token is not None else {}
    async with (
        ClientSession(timeout=ClientTimeout(total=timeout)) as session,
        session.post(url, json=update, headers=headers) as response,
    ):
        await response.read()
        return response.status


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class BotApiStandIn:
    """A fake Telegram Bot API server (see the module docstring).

    Args:
        token: the only token accepted; others get 401 Unauthorized.
        max_long_poll: cap, in seconds, on how long ``getUpdates`` waits for updates.
        validate_parse_mode: reject invalid HTML / MarkdownV2 / Markdown like Telegram does.
        clock: wall clock for message ``date`` fields (unix seconds).
        first_update_id: ``update_id`` of the first injected update.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        max_long_poll: float = 1.0,
        validate_parse_mode: bool = True,
        clock: Callable[[], float] = time.time,
        first_update_id: int = 1,
    ) -> None:
        self.token = token
        self.max_long_poll = max_long_poll
        self.validate_parse_mode = validate_parse_mode
        self._clock = clock

        # Recordings
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, JSONDict]] = []
        self.commands: list[JSONDict] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.rejected_429 = 0  # every 429 answered: rate_limit() rejections and fail_next(429)
        self.webhook_url = ""
        self.webhook_secret_token: str | None = None
        self.allowed_updates: list[str] | None = None
        self.closed = False
        self.logged_out = False

        # State
        self._pending: list[JSONDict] = []
        self._next_update_id = first_update_id
        self._messages: dict[tuple[int, int], _StoredMessage] = {}
        self._last_message_id: dict[int, int] = {}
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._blocked: set[int] = set()
        self._open_callback_ids: set[str] = set()
        self._callback_ids = itertools.count(1)
        self._commands_by_scope: dict[tuple[str, str], list[JSONDict]] = {}
        self._poll_generation = 0

        # Fault injection
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._drops: dict[str, int] = {}
        self._rate_per_second: float | None = None
        self._rate_methods: frozenset[str] = frozenset({"sendmessage"})
        self._rate_window: deque[float] = deque()

        # Server
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._closing = False
        self._changed = asyncio.Event()

        self._methods: dict[str, tuple[str, MethodHandler]] = {}
        for name, handler in {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "close": self._close,
            "logOut": self._log_out,
        }.items():
            self.add_method(name, handler)

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (port 0 picks a free port; see :attr:`root_url`)."""
        if self._runner is not None:
            raise RuntimeError("BotApiStandIn is already running")
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._host = host
        self._port = int(sock.getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; pending long polls and injected delays end at once."""
        self._closing = True
        self._touch()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT``; the bot calls ``<root_url>/bot<token>/<method>``."""
        if not self._port:
            raise RuntimeError("BotApiStandIn is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """``<root_url>/bot``: the ``base_url`` for python-telegram-bot."""
        return f"{self.root_url}/bot"

    @property
    def bot_user(self) -> JSONDict:
        """The bot's ``User`` object as returned by getMe."""
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def add_method(self, name: str, handler: MethodHandler) -> None:
        """Serve an extra Bot API method: ``handler(params)`` returns the ``result``.

        Method names are case-insensitive, like Telegram's.
        """
        self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.match_info["tail"].split("/")
        if len(parts) != 2 or not parts[0].startswith("bot") or not parts[1]:
            return web.json_response(_error_body(404, "Not Found"), status=404)
        token, raw_method = parts[0][3:], parts[1]
        if token != self.token:
            return web.json_response(_error_body(401, "Unauthorized"), status=401)
        key = raw_method.lower()
        method = self._methods[key][0] if key in self._methods else raw_method
        try:
            params = await self._read_params(request)
        except _ApiError as exc:
            self.calls.append((method, {}))
            self._touch()
            return self._error_response(exc)
        self.calls.append((method, params))
        self._touch()

        delays = self._delays.get(key)
        if delays:
            seconds = delays.popleft()
            await self._wait_until(lambda: self._closing, seconds)
            if self._closing:
                return web.json_response(_error_body(502, "Bad Gateway"), status=502)
        if self._drops.get(key):
            self._drops[key] -= 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        faults = self._faults.get(key)
        if faults:
            fault = faults.popleft()
            return self._error_response(
                _ApiError(fault.status, fault.description, fault.retry_after)
            )
        if key not in self._methods:
            return web.json_response(_error_body(404, "Not Found"), status=404)
        try:
            result = await self._methods[key][1](params)
        except _ApiError as exc:
            return self._error_response(exc)
        return web.json_response({"ok": True, "result": result})

    def _error_response(self, exc: _ApiError) -> web.Response:
        if exc.status == 429:
            self.rejected_429 += 1
            self._touch()
        return web.json_response(
            _error_body(exc.status, exc.description, exc.retry_after), status=exc.status
        )

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = {k: _coerce_form_value(k, v) for k, v in request.query.items()}
        if not request.body_exists:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise _ApiError(400, "Bad Request: JSON object expected")
            params.update({k: _coerce_json_value(k, v) for k, v in body.items()})
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for k, v in form.items():
                if isinstance(v, web.FileField):
                    params[k] = UploadedFile(k, v.filename, v.content_type, v.file.read())
                elif isinstance(v, str):
                    params[k] = _coerce_form_value(k, v)
                else:
                    params[k] = _coerce_form_value(k, bytes(v).decode("utf-8", "replace"))
        return params

    # ---------------------------------------------------------------- waiting machinery

    def _touch(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def notify(self) -> None:
        """Wake every :meth:`wait_for` so its predicate is re-checked now; call it after
        changing state the stand-in cannot see (e.g. a counter a predicate reads)."""
        self._touch()

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` is true (re-checked on every call, send and update);
        raise AssertionError with a dump of the recorded traffic on timeout."""
        if not await self._wait_until(predicate, timeout):
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}.\n{self.dump()}")

    def messages_to(
        self, chat_id: int, *, methods: Iterable[str] | None = None
    ) -> list[SentMessage]:
        """Everything recorded in :attr:`sent` for ``chat_id`` (sends and edits), oldest first;
        ``methods`` narrows it, e.g. ``methods=["sendMessage"]``."""
        wanted = {m.lower() for m in methods} if methods is not None else None
        return [
            m
            for m in self.sent
            if m.chat_id == chat_id and (wanted is None or m.method.lower() in wanted)
        ]

    def last_message_to(self, chat_id: int, *, methods: Iterable[str] | None = None) -> SentMessage:
        """The latest entry of :meth:`messages_to`; AssertionError if there is none."""
        messages = self.messages_to(chat_id, methods=methods)
        if not messages:
            raise AssertionError(f"nothing was sent to chat {chat_id}.\n{self.dump()}")
        return messages[-1]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,
        *,
        methods: Iterable[str] | None = None,
    ) -> list[SentMessage]:
        """Wait until at least ``count`` entries of :meth:`messages_to` exist; return them all."""
        method_list = list(methods) if methods is not None else None
        await self.wait_for(
            lambda: len(self.messages_to(chat_id, methods=method_list)) >= count,
            timeout,
            f"{count} message(s) to chat {chat_id}"
            + (f" via {method_list}" if method_list else ""),
        )
        return self.messages_to(chat_id, methods=method_list)

    async def wait_for_new_message(
        self,
        chat_id: int,
        after_index: int,
        timeout: float = 5.0,
        *,
        methods: Iterable[str] | None = None,
    ) -> SentMessage:
        """Wait for ``messages_to(chat_id)[after_index]`` and return it. Typical use::

        seen = len(api.messages_to(chat))
        api.user_sends_text(chat, "hi")
        reply = await api.wait_for_new_message(chat, seen)
        """
        messages = await self.wait_for_messages(chat_id, after_index + 1, timeout, methods=methods)
        return messages[after_index]

    async def wait_for_calls(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Wait until ``method`` was called at least ``count`` times; return their params."""
        await self.wait_for(
            lambda: len(self.calls_to(method)) >= count, timeout, f"{count} {method} call(s)"
        )
        return self.calls_to(method)

    async def wait_until_updates_consumed(self, timeout: float = 5.0) -> None:
        """Wait until every queued update was fetched and confirmed by a later offset."""
        await self.wait_for(
            lambda: not self._pending,
            timeout,
            f"the bot to confirm update(s) {[u['update_id'] for u in self._pending]}",
        )

    def calls_to(self, method: str) -> list[JSONDict]:
        """Parameters of every recorded call of ``method`` (case-insensitive)."""
        key = method.lower()
        return [params for name, params in self.calls if name.lower() == key]

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Queued updates not yet confirmed by the bot."""
        return copy.deepcopy(self._pending)

    def current_message(self, chat_id: int, message_id: int) -> JSONDict:
        """The Message object as it is now (after edits)."""
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            raise AssertionError(f"no message {message_id} in chat {chat_id}.\n{self.dump()}")
        return copy.deepcopy(stored.payload)

    def dump(self) -> str:
        """A readable summary of the recorded traffic, for assertion messages."""
        lines = [f"sent ({len(self.sent)}):"]
        for m in self.sent[-40:]:
            extra = f" buttons={m.buttons()!r}" if m.reply_markup else ""
            if m.filename:
                extra += f" file={m.filename!r}"
            lines.append(f"  chat {m.chat_id} #{m.message_id} {m.method}: {m.text!r}{extra}")
        lines.append(f"pending updates: {[u['update_id'] for u in self._pending]}")
        lines.append(f"calls ({len(self.calls)}), latest last:")
        for name, params in self.calls[-20:]:
            shown = {k: v for k, v in params.items() if k not in ("reply_markup",)}
            lines.append(f"  {name} {shown!r}"[:300])
        return "\n".join(lines)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error.

        429 gets ``parameters.retry_after`` (default 1) and "Too Many Requests: retry after N";
        other statuses get Telegram's usual description unless ``description`` is given.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        desc = description or _default_description(status, retry_after)
        queue = self._faults.setdefault(method.lower(), deque())
        queue.extend(_Fault(status, desc, retry_after) for _ in range(times))

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``method`` for ``seconds`` before handling them
        (the call still takes effect afterwards, like a slow Telegram)."""
        self._delays.setdefault(method.lower(), deque()).extend([seconds] * times)

    def drop_next(self, method: str, times: int = 1) -> None:
        """Abort the connection of the next ``times`` calls of ``method`` without answering."""
        key = method.lower()
        self._drops[key] = self._drops.get(key, 0) + times

    def rate_limit(
        self, per_second: float | None, *, methods: Iterable[str] = ("sendMessage",)
    ) -> None:
        """Answer 429 (retry_after=1) once more than ``per_second`` calls of ``methods`` were
        accepted within the last rolling second, globally. ``None`` switches it off."""
        self._rate_per_second = per_second
        self._rate_methods = frozenset(m.lower() for m in methods)
        self._rate_window.clear()

    def block(self, chat_id: int) -> None:
        """Make sends to ``chat_id`` answer 403 "Forbidden: bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def clear_faults(self) -> None:
        """Forget queued failures, delays, drops and the rate limit."""
        self._faults.clear()
        self._delays.clear()
        self._drops.clear()
        self.rate_limit(None)

    def _check_rate_limit(self, method: str) -> None:
        if self._rate_per_second is None or method.lower() not in self._rate_methods:
            return
        now = time.monotonic()
        while self._rate_window and now - self._rate_window[0] >= 1.0:
            self._rate_window.popleft()
        if len(self._rate_window) >= self._rate_per_second:
            raise _ApiError(429, _default_description(429, 1), 1)
        self._rate_window.append(now)

    # ---------------------------------------------------------------- user actions

    def _user(
        self, user_id: int, first_name: str | None = None, language_code: str | None = None
    ) -> JSONDict:
        known = self._users.get(user_id, {})
        user: JSONDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or known.get("first_name") or "Test",
            "language_code": language_code or known.get("language_code") or "en",
        }
        self._users[user_id] = user
        return dict(user)

    def _chat(self, chat_id: int, chat_type: str | None = None) -> JSONDict:
        if chat_type is None and chat_id in self._chats:
            return dict(self._chats[chat_id])
        kind = chat_type or ("private" if chat_id > 0 else "group")
        chat: JSONDict = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = self._users.get(chat_id, {}).get("first_name", "Test")
        else:
            chat["title"] = "Test group"
        self._chats[chat_id] = chat
        return dict(chat)

    def _queue(self, update: JSONDict) -> JSONDict:
        update = copy.deepcopy(update)
        if "update_id" in update:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        self._pending.append(update)
        self._touch()
        return copy.deepcopy(update)

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        return message_id

    def _user_message(
        self,
        user_id: int,
        content: JSONDict,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        user = self._user(user_id, first_name, language_code)
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -abs(user_id)
        chat = self._chat(chat_id, chat_type)
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(self._clock()),
            **content,
        }
        self._messages[(chat_id, message["message_id"])] = _StoredMessage(
            copy.deepcopy(message), from_bot=False, raw_text=content.get("text")
        )
        return self._queue({"message": message})

    def user_sends_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a text message update; commands get ``bot_command`` entities like Telegram's.

        ``first_name`` / ``language_code`` default to the user's previous values, else "Test" /
        "en". ``chat_id`` defaults to ``user_id`` (private chats).
        """
        content: JSONDict = {"text": text}
        entities = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group()),
            }
            for m in _COMMAND_ENTITY_RE.finditer(text)
        ]
        if entities:
            content["entities"] = entities
        return self._user_message(
            user_id,
            content,
            first_name=first_name,
            language_code=language_code,
            chat_type=chat_type,
            chat_id=chat_id,
        )

    def user_sends_sticker(
        self, user_id: int, *, emoji: str = "\N{THUMBS UP SIGN}", chat_id: int | None = None
    ) -> JSONDict:
        """Queue a message update carrying a sticker."""
        n = next(self._callback_ids)
        sticker = {
            "file_id": f"CAACAgIAAxkBAAStandInSticker{n}",
            "file_unique_id": f"AgADStk{n}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 24_000,
        }
        return self._user_message(user_id, {"sticker": sticker}, chat_id=chat_id)

    def user_sends_photo(
        self, user_id: int, *, caption: str | None = None, chat_id: int | None = None
    ) -> JSONDict:
        """Queue a message update carrying a photo (two sizes), optionally captioned."""
        n = next(self._callback_ids)
        sizes = [
            {
                "file_id": f"AgACAgIAAxkBAAStandInPhoto{n}-{w}",
                "file_unique_id": f"AQADPh{n}{w}",
                "width": w,
                "height": w * 3 // 4,
                "file_size": w * 40,
            }
            for w in (90, 1280)
        ]
        content: JSONDict = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, content, chat_id=chat_id)

    def user_taps(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        chat_id: int | None = None,
        strict: bool = True,
        language_code: str | None = None,
    ) -> JSONDict:
        """Queue a callback_query update for a tap on a button of bot message ``message_id``.

        The update's ``message`` is that message as it is now (text, reply_markup). With
        ``strict`` (default) the message must currently show a button with ``callback_data``.
        """
        chat = user_id if chat_id is None else chat_id
        stored = self._messages.get((chat, message_id))
        if stored is None:
            raise AssertionError(
                f"user_taps: no message {message_id} in chat {chat}.\n{self.dump()}"
            )
        if strict:
            rows = (stored.payload.get("reply_markup") or {}).get("inline_keyboard") or []
            offered = [b.get("callback_data") for row in rows for b in row]
            if callback_data not in offered:
                raise AssertionError(
                    f"user_taps: message {message_id} in chat {chat} has no button with "
                    f"callback_data {callback_data!r}; it offers {offered!r} "
                    "(pass strict=False to forge a tap)"
                )
        query_id = f"{4_200_000_000 + next(self._callback_ids)}{abs(user_id) % 1000:03d}"
        self._open_callback_ids.add(query_id)
        callback_query: JSONDict = {
            "id": query_id,
            "from": self._user(user_id, language_code=language_code),
            "message": copy.deepcopy(stored.payload),
            "chat_instance": str(-7_000_000_000_000 - chat),
            "data": callback_data,
        }
        return self._queue({"callback_query": callback_query})

    def user_sends_update(self, update: JSONDict) -> JSONDict:
        """Queue any raw update (edited_message, my_chat_member, ...); ``update_id`` is added
        unless present. Returns the queued update."""
        return self._queue(update)

    def _my_chat_member(self, user_id: int, old: str, new: str) -> JSONDict:
        bot = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        new_member: JSONDict = {"user": bot, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: JSONDict = {"user": dict(bot), "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        return self._queue(
            {
                "my_chat_member": {
                    "chat": self._chat(user_id),
                    "from": self._user(user_id),
                    "date": int(self._clock()),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    def user_blocks_bot(self, user_id: int) -> JSONDict:
        """Queue my_chat_member member→kicked and make sends to the user answer 403."""
        self.block(user_id)
        return self._my_chat_member(user_id, "member", "kicked")

    def user_unblocks_bot(self, user_id: int) -> JSONDict:
        """Queue my_chat_member kicked→member and let sends through again."""
        self.unblock(user_id)
        return self._my_chat_member(user_id, "kicked", "member")

    # ---------------------------------------------------------------- webhook driving

    async def post_update_to_webhook(
        self, url: str, update: JSONDict, secret_token: str | None = None
    ) -> int:
        """POST ``update`` to ``url`` like Telegram; returns the HTTP status."""
        return await post_update_to_webhook(url, update, secret_token)

    async def deliver_pending_to_webhook(self) -> list[int]:
        """POST every pending update to the registered webhook (with its secret token), in
        order; updates answered 2xx are dropped from the queue. Returns the statuses."""
        if not self.webhook_url:
            raise AssertionError("no webhook is set (setWebhook was not called)")
        statuses: list[int] = []
        for update in list(self._pending):
            status = await post_update_to_webhook(
                self.webhook_url, update, self.webhook_secret_token
            )
            statuses.append(status)
            if 200 <= status < 300:
                self._pending = [u for u in self._pending if u is not update]
                self._touch()
        return statuses

    # ---------------------------------------------------------------- method helpers

    def _target_chat(self, params: JSONDict) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(value, bool):
            raise _ApiError(400, "Bad Request: chat not found")
        if isinstance(value, str):
            if not re.fullmatch(r"-?\d+", value):
                raise _ApiError(400, "Bad Request: chat not found")
            value = int(value)
        if not isinstance(value, int):
            raise _ApiError(400, "Bad Request: chat not found")
        if value in self._blocked:
            raise _ApiError(403, BLOCKED)
        return value

    def _render(self, text: str, parse_mode: str | None) -> str:
        if parse_mode and parse_mode.lower() not in ("html", "markdown", "markdownv2"):
            raise _ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        if not self.validate_parse_mode:
            return text
        try:
            return render_text(text, parse_mode)
        except ValueError as exc:
            raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None

    def _markup(self, params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: "
                "InlineKeyboardButton must be an Object",
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _ApiError(
                        400, "Bad Request: inline keyboard button text must be non-empty"
                    )
                if set(button) == {"text"}:
                    raise _ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not (
                    isinstance(data, str)
                    and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _bot_from(self) -> JSONDict:
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

    def _store_bot_message(
        self,
        chat_id: int,
        content: JSONDict,
        markup: JSONDict | None,
        raw_text: str | None,
        parse_mode: str | None,
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": self._bot_from(),
            "chat": self._chat(chat_id),
            "date": int(self._clock()),
            **content,
        }
        # Telegram only ever echoes inline keyboards in Message.reply_markup.
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = _StoredMessage(
            message, from_bot=True, raw_text=raw_text, parse_mode=parse_mode
        )
        return copy.deepcopy(message)

    def _record(
        self,
        method: str,
        chat_id: int,
        message_id: int,
        text: str | None,
        markup: JSONDict | None,
        params: JSONDict,
        *,
        parse_mode: str | None = None,
        rendered: str | None = None,
        upload: UploadedFile | None = None,
        filename: str | None = None,
    ) -> None:
        self.sent.append(
            SentMessage(
                chat_id=chat_id,
                message_id=message_id,
                text=text,
                reply_markup=copy.deepcopy(markup),
                method=method,
                at=time.monotonic(),
                parse_mode=parse_mode,
                rendered_text=rendered,
                filename=filename,
                file_bytes=upload.data if upload else None,
                params=params,
            )
        )
        self._touch()

    def _checked_text(self, params: JSONDict) -> tuple[str, str | None, str]:
        text = params.get("text")
        if text is None or text == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        parse_mode = params.get("parse_mode") or None
        rendered = self._render(text, parse_mode)
        if not rendered.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_len(rendered) > MAX_MESSAGE_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return text, parse_mode, rendered

    def _editable(self, params: JSONDict) -> tuple[int, int, _StoredMessage]:
        if params.get("inline_message_id"):
            raise _ApiError(400, "Bad Request: inline messages are not supported by the stand-in")
        chat_id = self._target_chat(params)
        message_id = _as_int(params.get("message_id"), 0, "message_id")
        if not message_id:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return chat_id, message_id, stored

    # ---------------------------------------------------------------- Bot API methods

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return self.bot_user

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise _ApiError(409, WEBHOOK_CONFLICT)
        offset = _as_int(params.get("offset"), 0, "offset")
        limit = min(max(_as_int(params.get("limit"), 100, "limit"), 1), 100)
        timeout = max(_as_int(params.get("timeout"), 0, "timeout"), 0)
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._touch()
        self._poll_generation += 1
        generation = self._poll_generation
        if timeout and not self._pending:
            await self._wait_until(
                lambda: bool(self._pending) or self._closing or self._poll_generation != generation,
                min(float(timeout), self.max_long_poll),
            )
            if self._poll_generation != generation:
                raise _ApiError(409, POLL_CONFLICT)
        return copy.deepcopy(self._pending[:limit])

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token") or None
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        if _as_bool(params.get("drop_pending_updates", False)):
            self._pending.clear()
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        self.webhook_url = url
        self.webhook_secret_token = str(secret) if (secret and url) else None
        self._poll_generation += 1
        self._touch()
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        if _as_bool(params.get("drop_pending_updates", False)):
            self._pending.clear()
        self.webhook_url = ""
        self.webhook_secret_token = None
        self._touch()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self.allowed_updates is not None:
                info["allowed_updates"] = list(self.allowed_updates)
        return info

    @staticmethod
    def _scope_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise _ApiError(400, "Bad Request: too many commands specified")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND_RE.fullmatch(name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        self._commands_by_scope[self._scope_key(params)] = cleaned
        self.commands = copy.deepcopy(cleaned)
        self._touch()
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return copy.deepcopy(self._commands_by_scope.get(self._scope_key(params), []))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands_by_scope.pop(self._scope_key(params), None)
        self._touch()
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat_id = self._target_chat(params)
        self._check_rate_limit("sendMessage")
        text, parse_mode, rendered = self._checked_text(params)
        markup = self._markup(params)
        message = self._store_bot_message(chat_id, {"text": rendered}, markup, text, parse_mode)
        self._record(
            "sendMessage",
            chat_id,
            message["message_id"],
            text,
            markup,
            params,
            parse_mode=parse_mode,
            rendered=rendered,
        )
        return message

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        chat_id, message_id, stored = self._editable(params)
        self._check_rate_limit("editMessageText")
        if "text" not in stored.payload:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        text, parse_mode, rendered = self._checked_text(params)
        markup = self._markup(params)
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        payload = stored.payload
        if payload.get("text") == rendered and payload.get("reply_markup") == inline:
            raise _ApiError(400, NOT_MODIFIED)
        payload["text"] = rendered
        payload["edit_date"] = int(self._clock())
        if inline is None:
            payload.pop("reply_markup", None)
        else:
            payload["reply_markup"] = inline
        stored.raw_text, stored.parse_mode = text, parse_mode
        self._record(
            "editMessageText",
            chat_id,
            message_id,
            text,
            inline,
            params,
            parse_mode=parse_mode,
            rendered=rendered,
        )
        return copy.deepcopy(payload)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        chat_id, message_id, stored = self._editable(params)
        self._check_rate_limit("editMessageReplyMarkup")
        markup = self._markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise _ApiError(400, "Bad Request: inline keyboard expected")
        payload = stored.payload
        if payload.get("reply_markup") == markup:
            raise _ApiError(400, NOT_MODIFIED)
        if markup is None:
            payload.pop("reply_markup", None)
        else:
            payload["reply_markup"] = markup
        payload["edit_date"] = int(self._clock())
        self._record(
            "editMessageReplyMarkup",
            chat_id,
            message_id,
            stored.raw_text,
            markup,
            params,
            parse_mode=stored.parse_mode,
            rendered=payload.get("text", payload.get("caption")),
        )
        return copy.deepcopy(payload)

    async def _delete_message(self, params: JSONDict) -> bool:
        chat_id = self._target_chat(params)
        message_id = _as_int(params.get("message_id"), 0, "message_id")
        if self._messages.pop((chat_id, message_id), None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        self.deleted_messages.append((chat_id, message_id))
        self._touch()
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callback_ids:
            raise _ApiError(400, QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_callback_ids.discard(query_id)
        cache_time = params.get("cache_time")
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=None if text is None else str(text),
                show_alert=_as_bool(params.get("show_alert", False)),
                url=params.get("url"),
                cache_time=None if cache_time is None else int(cache_time),
                at=time.monotonic(),
            )
        )
        self._touch()
        return True

    async def _send_document(self, params: JSONDict) -> JSONDict:
        chat_id = self._target_chat(params)
        self._check_rate_limit("sendDocument")
        document = params.get("document")
        if document is None or document == "":
            raise _ApiError(400, "Bad Request: there is no document in the request")
        caption = params.get("caption")
        parse_mode = params.get("parse_mode") or None
        rendered: str | None = None
        if caption is not None:
            rendered = self._render(str(caption), parse_mode)
            if utf16_len(rendered) > MAX_CAPTION_LENGTH:
                raise _ApiError(400, "Bad Request: message caption is too long")
        message_id = self._last_message_id.get(chat_id, 0) + 1
        upload = document if isinstance(document, UploadedFile) else None
        if upload is not None:
            if not upload.data:
                raise _ApiError(400, "Bad Request: file must be non-empty")
            doc: JSONDict = {
                "file_id": f"BQACAgIAAxkBAAStandInDoc{chat_id}-{message_id}",
                "file_unique_id": f"AgADDoc{abs(chat_id)}{message_id}",
                "file_name": upload.filename or "document",
                "mime_type": upload.content_type or "application/octet-stream",
                "file_size": len(upload.data),
            }
            filename: str | None = upload.filename
        else:
            doc = {"file_id": str(document), "file_unique_id": f"AgADRef{message_id}"}
            filename = None
        content: JSONDict = {"document": doc}
        if rendered:
            content["caption"] = rendered
        markup = self._markup(params)
        raw_caption = None if caption is None else str(caption)
        message = self._store_bot_message(chat_id, content, markup, raw_caption, parse_mode)
        self._record(
            "sendDocument",
            chat_id,
            message["message_id"],
            raw_caption,
            markup,
            params,
            parse_mode=parse_mode,
            rendered=rendered,
            upload=upload,
            filename=filename,
        )
        return message

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        """sendPhoto: an upload is kept (``file_bytes``) so tests can decode the picture."""
        chat_id = self._target_chat(params)
        self._check_rate_limit("sendPhoto")
        photo = params.get("photo")
        if photo is None or photo == "":
            raise _ApiError(400, "Bad Request: there is no photo in the request")
        caption = params.get("caption")
        parse_mode = params.get("parse_mode") or None
        rendered: str | None = None
        if caption is not None:
            rendered = self._render(str(caption), parse_mode)
            if utf16_len(rendered) > MAX_CAPTION_LENGTH:
                raise _ApiError(400, "Bad Request: message caption is too long")
        message_id = self._last_message_id.get(chat_id, 0) + 1
        upload = photo if isinstance(photo, UploadedFile) else None
        width = height = 0
        if upload is not None:
            if not upload.data:
                raise _ApiError(400, "Bad Request: file must be non-empty")
            if upload.data[:8] == b"\x89PNG\r\n\x1a\n":
                width = int.from_bytes(upload.data[16:20], "big")
                height = int.from_bytes(upload.data[20:24], "big")
            else:
                raise _ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        size: JSONDict = {
            "file_id": f"AgACAgIAAxkBAAStandInPhoto{chat_id}-{message_id}",
            "file_unique_id": f"AQADPhoto{abs(chat_id)}{message_id}",
            "width": width,
            "height": height,
            "file_size": len(upload.data) if upload else 0,
        }
        content: JSONDict = {"photo": [size]}
        if rendered:
            content["caption"] = rendered
        markup = self._markup(params)
        raw_caption = None if caption is None else str(caption)
        message = self._store_bot_message(chat_id, content, markup, raw_caption, parse_mode)
        self._record(
            "sendPhoto",
            chat_id,
            message["message_id"],
            raw_caption,
            markup,
            params,
            parse_mode=parse_mode,
            rendered=rendered,
            upload=upload,
            filename=upload.filename if upload else None,
        )
        return message

    async def _send_chat_action(self, params: JSONDict) -> bool:
        chat_id = self._target_chat(params)
        action = str(params.get("action") or "")
        if action not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, action))
        self._touch()
        return True

    async def _close(self, params: JSONDict) -> bool:
        self.closed = True
        return True

    async def _log_out(self, params: JSONDict) -> bool:
        self.logged_out = True
        return True
