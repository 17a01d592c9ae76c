"""A local stand-in for the part of the Google Sheets API v4 that batn's Google door uses.

Served over HTTP on 127.0.0.1 (port 0: the OS picks a free port) by a ThreadingHTTPServer, so the
real gspread client, the real requests/google-auth stack and batn's backoff run against it
unchanged; only the host is different (batn.gsheets.auth mounts a transport adapter that sends
every *.googleapis.com request here when BATN_SHEETS_API_BASE / --api-base is set).

What it implements, with the JSON shapes of the real API:

- ``POST /v4/spreadsheets`` (spreadsheets.create) and ``GET /v4/spreadsheets/{id}`` (spreadsheets.get:
  properties, sheets[].properties, sheets[].protectedRanges; grid data is never returned).
- ``GET  .../values/{range}`` (values.get), ``GET .../values:batchGet`` (values.batchGet),
  ``PUT .../values/{range}`` (values.update), ``POST .../values:batchUpdate`` (values.batchUpdate),
  ``POST .../values/{range}:clear`` and ``POST .../values:batchClear``, with valueRenderOption
  FORMATTED_VALUE / UNFORMATTED_VALUE / FORMULA, dateTimeRenderOption, majorDimension ROWS/COLUMNS,
  valueInputOption RAW / USER_ENTERED (USER_ENTERED parses "=..." as a formula, a leading
  apostrophe as "text", TRUE/FALSE, numbers and dates by the spreadsheet's locale: vi_VN reads
  "1.644" as 1644 and "1,5" as 1.5; en_US the other way round). Null values are skipped on write.
- ``POST /v4/spreadsheets/{id}:batchUpdate`` with addSheet, deleteSheet, updateSheetProperties,
  updateSpreadsheetProperties, updateCells (rows/start or range, field masks; a range without rows
  clears the masked fields), repeatCell, setDataValidation, addProtectedRange, deleteProtectedRange,
  updateDimensionProperties. Atomic like Google: one failing request leaves nothing applied.
- Real A1 parsing: ``'Tab name'!B2:D9``, ``Tab!A:A``, ``Tab!2:5``, ``Tab!A2:C`` (open-ended),
  single cells, a bare (quoted) sheet name for the whole sheet, a bare ``A1:B2`` on the first sheet,
  ``''`` escapes inside quoted names. A bad range, an unknown sheet or a range past the grid is a 400
  ("Unable to parse range: ...", "... exceeds grid limits ...").
- Users are told apart by their bearer token. A request without one is 401; a user the spreadsheet
  is not shared with is 403; a write that touches a protected range (sheet protections honour
  ``unprotectedRanges``) by a user who is neither its editor nor the owner is 403 with Google's
  message; a token whose scopes do not cover the call is 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT.
- ``POST /token``: the OAuth 2.0 JWT-bearer grant a service-account key uses. The assertion's RS256
  signature is checked against the public key registered with `register_service_account`; an
  unknown or revoked key answers 400 invalid_grant like Google's token endpoint. Also the
  authorization-code grant of an installed app (PKCE S256 checked, the client's id and secret, the
  same loopback redirect_uri as the consent) and the refresh-token grant; `consent(url, email)` plays
  Google's consent page and returns where the browser is sent (the loopback address with the code).
  The ID token returned with `openid email` carries the e-mail (unsigned: batn reads it from the
  token endpoint's answer only).
- A person signed in with `drive.file` only reaches the spreadsheets an app created for them (others
  answer 404, as Google does); a service account cannot create a spreadsheet (403 storage quota,
  as Google answers since service accounts lost their Drive storage).
- Every request to the API is checked against Google's discovery documents (tests/discovery.py):
  an unknown method, parameter, body field, field mask or enum value answers 400 and is kept in
  `violations`, which the tests' fixtures assert empty.
- ``POST /drive/v3/files/{id}/permissions``: sharing a spreadsheet (needs the drive scope, or
  drive.file for a file the same account created).
- Quota: ``quota=N`` allows N read and N write requests per user per window (60 s by default,
  read and write counted apart as Google does); past it, 429 RESOURCE_EXHAUSTED. The clock is
  injectable so tests move time instead of sleeping; `quota`, `window` and `clock` may be changed
  on a running stand-in. ``storm(n)`` answers the next n API requests with 429/503 whatever they are.
- Every request is logged (`log`), with the user, the kind (read/write) and the status returned,
  so tests count requests from the server's side.

What it does not implement: formulas are stored, never calculated (a formula cell reads as empty,
or as its text with FORMULA); number formats other than DATE/PERCENT are ignored when rendering;
data validation is stored but not enforced on API writes; merges, conditional formats, named
ranges, developer metadata, filters, charts, values.append, batchGetByDataFilter, copyTo,
the ``fields`` parameter of spreadsheets.get (everything but grid data is returned) and
includeGridData=true; the per-project quota (only per user); Drive files other than permissions.
"""
from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

SCOPE_SHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_SHEETS_RO = "https://www.googleapis.com/auth/spreadsheets.readonly"
SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
SCOPE_DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
READ_SCOPES = {SCOPE_SHEETS, SCOPE_SHEETS_RO, SCOPE_DRIVE, SCOPE_DRIVE_FILE,
               "https://www.googleapis.com/auth/drive.readonly"}
WRITE_SCOPES = {SCOPE_SHEETS, SCOPE_DRIVE, SCOPE_DRIVE_FILE}

PROTECTED_MESSAGE = ("You are trying to edit a protected cell or object. Please contact the spreadsheet "
                     "owner to remove protection if you need to edit.")
EPOCH = date(1899, 12, 30)   # Sheets' serial day 0


# ------------------------------------------------------------------ errors

class ApiError(Exception):
    def __init__(self, code: int, message: str, status: str, reason: str | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.reason = code, message, status, reason

    def body(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.reason:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.reason,
                               "domain": "googleapis.com", "metadata": {"service": "sheets.googleapis.com"}}]
        return {"error": err}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "INVALID_ARGUMENT")


# ------------------------------------------------------------------ A1 notation

_PART = re.compile(r"^\$?([A-Za-z]{1,3})?\$?(\d+)?$")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def col_letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def quote_sheet(title: str) -> str:
    if _SIMPLE_NAME.match(title) and not re.match(r"^[A-Za-z]{1,3}\d+$", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_a1(text: str) -> tuple[str | None, str | None]:
    """("Tab", "A1:B2") from "'Tab'!A1:B2"; (None, ref) when there is no sheet part."""
    text = text.strip()
    if text.startswith("'"):
        i, name = 1, []
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    name.append("'")
                    i += 2
                    continue
                break
            name.append(ch)
            i += 1
        else:
            raise ValueError("unterminated quote")
        rest = text[i + 1:]
        if not rest:
            return "".join(name), None
        if not rest.startswith("!") or len(rest) == 1:
            raise ValueError("bad range")
        return "".join(name), rest[1:]
    if "!" in text:
        sheet, ref = text.split("!", 1)
        if not sheet or not ref:
            raise ValueError("bad range")
        return sheet, ref
    return None, text


def parse_ref(ref: str) -> tuple[int | None, int | None, int | None, int | None]:
    """(row1, col1, row2, col2), 0-based, inclusive; None for an open end.

    "B2" a cell; "B2:D9"; "A:C" whole columns; "2:5" whole rows; "A2:C" columns A..C from row 2 down.
    """
    parts = ref.split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError("bad ref")
    parsed = []
    for p in parts:
        m = _PART.match(p)
        if not m or (m.group(1) is None and m.group(2) is None):
            raise ValueError("bad ref")
        col = col_index(m.group(1)) if m.group(1) else None
        row = int(m.group(2)) - 1 if m.group(2) else None
        if row is not None and row < 0:
            raise ValueError("row 0")
        parsed.append((row, col))
    if len(parsed) == 1:
        r, c = parsed[0]
        if r is None or c is None:
            raise ValueError("a single part must be a cell")
        return r, c, r, c
    (r1, c1), (r2, c2) = parsed
    def shape(r, c):
        return "cell" if r is not None and c is not None else ("col" if c is not None else "row")

    if (shape(r1, c1), shape(r2, c2)) not in {("cell", "cell"), ("col", "col"), ("row", "row"),
                                                 ("cell", "col"), ("col", "cell")}:
        raise ValueError("bad ref")
    if r1 is not None and r2 is not None and r1 > r2:
        r1, r2 = r2, r1
    if c1 is not None and c2 is not None and c1 > c2:
        c1, c2 = c2, c1
    return r1, c1, r2, c2


def is_ref(text: str) -> bool:
    try:
        parse_ref(text)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------ state

@dataclass
class Grid:
    """A resolved rectangle: 0-based, end exclusive, like Google's GridRange."""
    sheet_id: int
    r1: int
    r2: int
    c1: int
    c2: int

    def cells(self):
        for r in range(self.r1, self.r2):
            for c in range(self.c1, self.c2):
                yield r, c

    def intersects(self, o: "Grid") -> bool:
        return (self.sheet_id == o.sheet_id and self.r1 < o.r2 and o.r1 < self.r2
                and self.c1 < o.c2 and o.c1 < self.c2)

    def contains(self, r: int, c: int) -> bool:
        return self.r1 <= r < self.r2 and self.c1 <= c < self.c2


@dataclass
class Sheet:
    props: dict                                 # sheetId, title, index, sheetType, gridProperties, ...
    cells: dict = field(default_factory=dict)   # (row, col) -> {"v", "f", "note", "fmt", "dv"}
    protected: list = field(default_factory=list)
    dims: dict = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.props["sheetId"]

    @property
    def title(self) -> str:
        return self.props["title"]

    @property
    def rows(self) -> int:
        return self.props["gridProperties"]["rowCount"]

    @property
    def cols(self) -> int:
        return self.props["gridProperties"]["columnCount"]

    def copy(self) -> "Sheet":
        return Sheet(copy.deepcopy(self.props), {k: dict(v) for k, v in self.cells.items()},
                     copy.deepcopy(self.protected), copy.deepcopy(self.dims))


@dataclass
class Spreadsheet:
    id: str
    props: dict
    sheets: list
    owner: str
    shares: dict = field(default_factory=dict)   # email -> "writer" | "reader"
    created_by_app: bool = False

    def copy(self) -> "Spreadsheet":
        return Spreadsheet(self.id, copy.deepcopy(self.props), [s.copy() for s in self.sheets], self.owner,
                           dict(self.shares), self.created_by_app)

    def add(self, sheet: Sheet) -> None:
        self.sheets.append(sheet)
        self.__dict__.pop("_by_id", None)

    def remove(self, sheet: Sheet) -> None:
        self.sheets.remove(sheet)
        self.__dict__.pop("_by_id", None)

    def sheet_by_title(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def sheet_by_id(self, sid: int) -> Sheet | None:
        index = self.__dict__.get("_by_id")
        if index is None:
            index = self.__dict__["_by_id"] = {s.id: s for s in self.sheets}
        return index.get(sid)

    def role(self, email: str) -> str | None:
        return "owner" if email == self.owner else self.shares.get(email)


@dataclass
class Logged:
    method: str
    path: str                  # decoded path, e.g. /v4/spreadsheets/abc/values:batchGet
    query: dict
    user: str
    kind: str                  # "read" | "write" | "token" | "other"
    status: int
    ranges: list = field(default_factory=list)
    input_option: str = ""     # valueInputOption of a values write (RAW / USER_ENTERED)


# ------------------------------------------------------------------ the stand-in

class SheetsStandIn:
    """Start with `start()` (or use as a context manager); `base_url` is what batn's --api-base takes."""

    def __init__(self, *, quota: int | None = None, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.quota = quota
        self.window = window
        self.clock = clock
        self.lock = threading.RLock()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.tokens: dict[str, tuple[str, frozenset]] = {}    # token -> (email, scopes)
        self.keys: dict[str, Any] = {}                        # service-account email -> public key
        self.log: list[Logged] = []
        self._used: dict[tuple[str, str, int], int] = {}
        self._storm: list[int] = []
        self._ids = itertools.count(1)
        self.clients: dict[str, str] = {}                     # OAuth client id -> secret
        self.codes: dict[str, dict] = {}                      # authorization code -> what was consented
        self.refresh_tokens: dict[str, dict] = {}             # refresh token -> client, email, scopes
        self.violations: list[str] = []                       # requests Google's discovery does not know
        self.validate = True
        self.faults: list[dict] = []                          # injected failures (see `fail`)
        self.after_write: list[Callable[["SheetsStandIn", str], None]] = []   # called after each applied write
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle
    def start(self) -> "SheetsStandIn":
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sheets-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "SheetsStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- test helpers (direct state access: not logged, no quota)
    def add_user(self, email: str, scopes=(SCOPE_SHEETS,)) -> str:
        token = "ya29.standin-" + secrets.token_urlsafe(12)
        with self.lock:
            self.tokens[token] = (email, frozenset(scopes))
        return token

    def register_service_account(self, email: str, public_key) -> None:
        """`public_key`: a cryptography RSA public key; the JWT grant for `email` is checked against it."""
        with self.lock:
            self.keys[email] = public_key

    def register_oauth_client(self, client_id: str, secret: str) -> None:
        with self.lock:
            self.clients[client_id] = secret

    def consent(self, auth_url: str, email: str, *, grant: tuple[str, ...] | None = None) -> str:
        """Google's consent page: `email` signs in and allows (the scopes asked, or `grant`). Returns the
        address the browser is redirected to: the app's loopback redirect_uri with code and state."""
        q = {k: v[-1] for k, v in parse_qs(urlsplit(auth_url).query).items()}
        assert urlsplit(auth_url).netloc == "accounts.google.com", auth_url
        assert q.get("response_type") == "code" and q.get("client_id") in self.clients, q
        assert q.get("code_challenge_method") == "S256" and q.get("code_challenge"), "PKCE is required"
        redirect = q["redirect_uri"]
        assert urlsplit(redirect).hostname in ("127.0.0.1", "localhost"), redirect
        code = "4/standin-" + secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {"client_id": q["client_id"], "redirect_uri": redirect, "email": email,
                                "challenge": q["code_challenge"],
                                "scopes": frozenset(grant if grant is not None else q.get("scope", "").split())}
        return f"{redirect}?state={q.get('state', '')}&code={code}&scope={q.get('scope', '')}"

    def revoke_service_account(self, email: str) -> None:
        with self.lock:
            self.keys.pop(email, None)

    def new_spreadsheet(self, title: str, owner: str, *, locale: str = "vi_VN",
                        sheets: tuple[str, ...] = ("Trang tính1",)) -> str:
        with self.lock:
            ss = self._create(owner, {"properties": {"title": title, "locale": locale},
                                      "sheets": [{"properties": {"title": t}} for t in sheets]})
            return ss.id

    def share(self, sid: str, email: str, role: str = "writer") -> None:
        with self.lock:
            self.spreadsheets[sid].shares[email] = role

    def storm(self, n: int, statuses: tuple[int, ...] = (429, 503)) -> None:
        """Answer the next `n` Sheets/Drive API requests, whatever they are, with these statuses in turn
        (the OAuth token endpoint is spared)."""
        with self.lock:
            self._storm = [statuses[i % len(statuses)] for i in range(n)]

    def fail(self, path_end: str, *, nth: int = 1, applied: bool, how: str = "drop", contains: str = "") -> None:
        """Fail the `nth` next request whose path ends with `path_end` (and whose body holds `contains`):
        `applied` (Google did it, the answer is lost) or not; `how`: "drop" closes the connection without
        an answer, "500" answers 500."""
        with self.lock:
            self.faults.append({"path": path_end, "left": nth, "applied": applied, "how": how, "contains": contains})

    def _fault_for(self, path: str, body: bytes = b"") -> dict | None:
        for f in self.faults:
            if path.endswith(f["path"]) and f["contains"].encode() in body:
                f["left"] -= 1
                if f["left"] == 0:
                    self.faults.remove(f)
                    return f
        return None

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    def api_requests(self) -> list[Logged]:
        """Logged calls to the Sheets/Drive API (token grants and unknown paths left out)."""
        with self.lock:
            return [e for e in self.log if e.kind in ("read", "write")]

    def _cell_at(self, sid: str, a1: str) -> tuple[Sheet, int, int]:
        ss = self.spreadsheets[sid]
        grid = self._resolve(ss, a1)
        return ss.sheet_by_id(grid.sheet_id), grid.r1, grid.c1  # type: ignore[return-value]

    def cell(self, sid: str, a1: str) -> dict:
        """A copy of one cell's stored state: keys v (value), f (formula), note, fmt, dv."""
        with self.lock:
            sheet, r, c = self._cell_at(sid, a1)
            return copy.deepcopy(sheet.cells.get((r, c), {}))

    def type_into(self, sid: str, a1: str, text: object, *, user: str | None = None) -> None:
        """What a clerk typing into a cell does (USER_ENTERED, by the spreadsheet's locale).
        With `user`, protections are enforced as for that user."""
        with self.lock:
            ss = self.spreadsheets[sid]
            grid = self._resolve(ss, a1)
            if user is not None:
                self._check_edit(ss, user, grid)
            sheet = ss.sheet_by_id(grid.sheet_id)
            self._put_input(ss, sheet, grid.r1, grid.c1, text, "USER_ENTERED")

    def set_values(self, sid: str, a1: str, rows: list[list[object]], *, option: str = "RAW") -> None:
        with self.lock:
            ss = self.spreadsheets[sid]
            grid = self._resolve(ss, a1)
            sheet = ss.sheet_by_id(grid.sheet_id)
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    if v is not None:
                        self._put_input(ss, sheet, grid.r1 + i, grid.c1 + j, v, option)

    def values(self, sid: str, a1: str, render: str = "UNFORMATTED_VALUE") -> list[list[object]]:
        with self.lock:
            ss = self.spreadsheets[sid]
            return self._read(ss, self._resolve(ss, a1), render, "FORMATTED_STRING", "ROWS")

    def titles(self, sid: str) -> list[str]:
        with self.lock:
            return [s.title for s in self.spreadsheets[sid].sheets]

    def protected_ranges(self, sid: str) -> list[dict]:
        with self.lock:
            return [dict(pr, sheetTitle=s.title) for s in self.spreadsheets[sid].sheets for pr in s.protected]

    def can_edit(self, sid: str, user: str, a1: str) -> bool:
        with self.lock:
            ss = self.spreadsheets[sid]
            try:
                self._check_edit(ss, user, self._resolve(ss, a1))
                return True
            except ApiError:
                return False

    # ---- request handling (called by the HTTP handler)
    def handle(self, method: str, raw_path: str, query: dict, headers, body: bytes) -> tuple[int, dict, dict]:
        path = raw_path
        kind = _kind(method, path)
        user = ""
        entry = Logged(method, unquote(path), query, user, kind, 0, list(query.get("ranges", [])))
        entry.input_option = (query.get("valueInputOption") or [""])[-1]
        if not entry.input_option and body and "/values" in path:
            try:
                entry.input_option = json.loads(body.decode("utf-8")).get("valueInputOption", "")
            except ValueError:
                pass
        try:
            with self.lock:
                if self._storm and kind in ("read", "write"):
                    code = self._storm.pop(0)
                    raise (ApiError(429, "Quota exceeded (simulated storm).", "RESOURCE_EXHAUSTED",
                                    "RATE_LIMIT_EXCEEDED") if code == 429 else
                           ApiError(code, "The service is currently unavailable.", "UNAVAILABLE"))
                if path == "/token" and method == "POST":
                    status, payload = self._token(body, headers)
                    entry.status = status
                    return status, payload, {}
                if kind in ("read", "write") and self.validate:
                    from discovery import check_request

                    try:
                        parsed = json.loads(body.decode("utf-8")) if body else None
                    except ValueError:
                        parsed = "<not JSON>"
                    problems = check_request(method, path, query, parsed)
                    if problems:
                        self.violations += problems
                        raise bad_request("Not in Google's discovery document: " + "; ".join(problems))
                user, scopes = self._authenticate(headers)
                entry.user = user
                if kind in ("read", "write"):
                    self._scope_check(kind, scopes, path)
                    self._charge(user, kind)
                fault = self._fault_for(path, body) if kind == "write" else None
                if fault and not fault["applied"]:
                    entry.status = 0 if fault["how"] == "drop" else 500
                    if fault["how"] == "drop":
                        raise _Drop()
                    raise ApiError(500, "Internal error encountered.", "INTERNAL")
                payload = self._route(method, path, query, body, user, scopes)
                entry.status = 200
                if kind == "write":
                    m = re.match(r"^/v4/spreadsheets/([^/:]+)", path)
                    for hook in self.after_write:
                        hook(self, unquote(m.group(1)) if m else "")
                if fault:
                    entry.status = 0 if fault["how"] == "drop" else 500
                    if fault["how"] == "drop":
                        raise _Drop()
                    raise ApiError(500, "Internal error encountered.", "INTERNAL")
                return 200, payload, {}
        except _Drop:
            raise
        except ApiError as e:
            entry.status = e.code if not entry.status else entry.status
            return e.code, e.body(), {}
        except Exception as e:  # a bug here must read as a server error, not hang the client
            entry.status = 500
            return 500, ApiError(500, f"Internal error: {type(e).__name__}: {e}", "INTERNAL").body(), {}
        finally:
            with self.lock:
                self.log.append(entry)

    def _authenticate(self, headers) -> tuple[str, frozenset]:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 access "
                                "token, login cookie or other valid authentication credential.", "UNAUTHENTICATED",
                           "CREDENTIALS_MISSING")
        token = auth[len("Bearer "):].strip()
        if token not in self.tokens:
            raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                                "login cookie or other valid authentication credential.", "UNAUTHENTICATED",
                           "ACCESS_TOKEN_TYPE_UNSUPPORTED")
        return self.tokens[token]

    @staticmethod
    def _scope_check(kind: str, scopes: frozenset, path: str) -> None:
        if path.startswith("/drive/"):
            need = {SCOPE_DRIVE, SCOPE_DRIVE_FILE}
        else:
            need = READ_SCOPES if kind == "read" else WRITE_SCOPES
        if not scopes & need:
            raise ApiError(403, "Request had insufficient authentication scopes.", "PERMISSION_DENIED",
                           "ACCESS_TOKEN_SCOPE_INSUFFICIENT")

    def _charge(self, user: str, kind: str) -> None:
        if self.quota is None:
            return
        slot = int(self.clock() // self.window)
        key = (user, kind, slot)
        if self._used.get(key, 0) >= self.quota:
            metric = "Read requests" if kind == "read" else "Write requests"
            raise ApiError(429, f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per "
                                f"user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.",
                           "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED")
        self._used[key] = self._used.get(key, 0) + 1

    # ---- OAuth token endpoint (JWT bearer grant)
    def _token(self, body: bytes, headers=None) -> tuple[int, dict]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        auth = (headers or {}).get("Authorization", "") if headers is not None else ""
        if auth.startswith("Basic "):          # client credentials by HTTP Basic, as requests-oauthlib sends them
            from urllib.parse import unquote_plus

            cid, _, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            form.setdefault("client_id", unquote_plus(cid))
            form.setdefault("client_secret", unquote_plus(secret))
        if form.get("grant_type") == "authorization_code":
            return self._token_from_code(form)
        if form.get("grant_type") == "refresh_token":
            return self._token_from_refresh(form)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        try:
            head_b64, payload_b64, sig_b64 = form["assertion"].split(".")
            claims = json.loads(_b64d(payload_b64))
            signature = _b64d(sig_b64)
        except (KeyError, ValueError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
        email = claims.get("iss", "")
        key = self.keys.get(email)
        if key is None or not _rs256_ok(key, f"{head_b64}.{payload_b64}".encode(), signature):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if claims.get("exp", 0) < time.time() - 300:
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid JWT: Token must be a short-lived token."}
        scopes = frozenset(str(claims.get("scope", "")).split())
        token = "ya29.standin-" + secrets.token_urlsafe(12)
        self.tokens[token] = (email, scopes)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _client_ok(self, form: dict) -> bool:
        return self.clients.get(form.get("client_id", "")) == form.get("client_secret") is not None

    def _issue(self, email: str, scopes: frozenset) -> dict:
        token = "ya29.standin-" + secrets.token_urlsafe(12)
        self.tokens[token] = (email, scopes)
        out = {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": " ".join(sorted(scopes))}
        if "openid" in scopes:
            claims = {"iss": "https://accounts.google.com", "email": email, "email_verified": True}
            enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
            out["id_token"] = f"{enc({'alg': 'RS256', 'typ': 'JWT'})}.{enc(claims)}.c2lnbmF0dXJl"
        return out

    def _token_from_code(self, form: dict) -> tuple[int, dict]:
        import hashlib

        grant = self.codes.pop(form.get("code", ""), None)      # a code is good once
        if not self._client_ok(form):
            return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
        if grant is None or grant["client_id"] != form.get("client_id"):
            return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
        out = self._issue(grant["email"], grant["scopes"])
        refresh = "1//standin-" + secrets.token_urlsafe(16)
        self.refresh_tokens[refresh] = {"client_id": grant["client_id"], "email": grant["email"],
                                        "scopes": grant["scopes"]}
        out["refresh_token"] = refresh
        return 200, out

    def _token_from_refresh(self, form: dict) -> tuple[int, dict]:
        if not self._client_ok(form):
            return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
        grant = self.refresh_tokens.get(form.get("refresh_token", ""))
        if grant is None or grant["client_id"] != form.get("client_id"):
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        return 200, self._issue(grant["email"], grant["scopes"])

    # ---- routing
    def _route(self, method: str, path: str, query: dict, body: bytes, user: str, scopes: frozenset) -> dict:
        data = json.loads(body.decode("utf-8")) if body else {}
        q1 = {k: v[-1] for k, v in query.items()}
        if path == "/v4/spreadsheets" and method == "POST":
            return self._api_create(user, data, scopes)
        m = re.match(r"^/drive/v3/files/([^/]+)/permissions$", path)
        if m and method == "POST":
            return self._api_share(unquote(m.group(1)), user, scopes, data)
        if m and method == "GET":
            return self._api_permissions(unquote(m.group(1)), user, scopes)
        m = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", path)
        if not m:
            raise ApiError(404, "Method not found.", "NOT_FOUND")
        ss = self._open(unquote(m.group(1)), user, scopes)
        rest = m.group(2)
        if rest == "" and method == "GET":
            if query.get("ranges") and "data" in q1.get("fields", ""):
                return self._api_get_notes(ss, query["ranges"])
            if q1.get("includeGridData", "false").lower() == "true":
                raise bad_request("includeGridData=true is not implemented by the stand-in")
            return self._api_get(ss, user)
        if rest == ":batchUpdate" and method == "POST":
            return self._atomic(ss, user, lambda s: self._api_batch_update(s, user, data))
        if rest == "/values:batchGet" and method == "GET":
            return self._api_batch_get(ss, query.get("ranges", []), q1)
        if rest == "/values:batchUpdate" and method == "POST":
            return self._atomic(ss, user, lambda s: self._api_values_batch_update(s, user, data))
        if rest == "/values:batchClear" and method == "POST":
            return self._atomic(ss, user, lambda s: self._api_batch_clear(s, user, data.get("ranges", [])))
        if rest.startswith("/values/") and rest.endswith(":clear") and method == "POST":
            rng = unquote(rest[len("/values/"):-len(":clear")])
            return self._atomic(ss, user, lambda s: {"spreadsheetId": s.id,
                                                      "clearedRange": self._clear(s, user, rng)})
        if rest.startswith("/values/") and rest.endswith(":append"):
            raise ApiError(501, "values.append is not implemented by the stand-in", "UNIMPLEMENTED")
        if rest.startswith("/values/") and "/" not in rest[len("/values/"):]:
            rng = unquote(rest[len("/values/"):])
            if method == "GET":
                return self._api_values_get(ss, rng, q1)
            if method == "PUT":
                return self._atomic(ss, user, lambda s: self._api_values_update(s, user, rng, q1, data))
        raise ApiError(404, "Method not found.", "NOT_FOUND")

    def _open(self, sid: str, user: str, scopes: frozenset = frozenset({SCOPE_SHEETS})) -> Spreadsheet:
        ss = self.spreadsheets.get(sid)
        if ss is None:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        if not scopes & (READ_SCOPES - {SCOPE_DRIVE_FILE}) and not ss.created_by_app:
            # drive.file alone reaches only the files the app created: others are not found
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        if ss.role(user) is None:
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        return ss

    def _atomic(self, ss: Spreadsheet, user: str, fn: Callable[[Spreadsheet], dict]) -> dict:
        """Apply `fn` to a copy; keep the copy only if every part succeeded (Google's batches are atomic)."""
        if ss.role(user) not in ("owner", "writer"):
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        work = ss.copy()
        result = fn(work)
        self.spreadsheets[ss.id] = work
        return result

    # ---- spreadsheets.create / get / share
    def _create(self, owner: str, data: dict) -> Spreadsheet:
        sid = "standin-" + secrets.token_hex(8)
        props = {"title": "Untitled spreadsheet", "locale": "en_US", "autoRecalc": "ON_CHANGE",
                 "timeZone": "Etc/GMT",
                 "defaultFormat": {"verticalAlignment": "BOTTOM", "wrapStrategy": "OVERFLOW_CELL"}}
        props.update(data.get("properties") or {})
        ss = Spreadsheet(sid, props, [], owner)
        wanted = data.get("sheets") or [{"properties": {"title": "Sheet1"}}]
        for i, sh in enumerate(wanted):
            self._add_sheet(ss, dict(sh.get("properties") or {}, index=i))
        self.spreadsheets[sid] = ss
        return ss

    def _api_create(self, user: str, data: dict, scopes: frozenset) -> dict:
        if user.endswith(".gserviceaccount.com"):
            raise ApiError(403, "The user's Drive storage quota has been exceeded.", "PERMISSION_DENIED",
                           "storageQuotaExceeded")
        ss = self._create(user, data)
        ss.created_by_app = SCOPE_DRIVE_FILE in scopes
        return self._api_get(ss, user)

    def _api_share(self, sid: str, user: str, scopes: frozenset, data: dict) -> dict:
        ss = self.spreadsheets.get(sid)
        if ss is None or ss.role(user) is None:
            raise ApiError(404, f"File not found: {sid}.", "NOT_FOUND")
        if SCOPE_DRIVE not in scopes and not (SCOPE_DRIVE_FILE in scopes and ss.created_by_app and ss.owner == user):
            raise ApiError(403, "The user has not granted the app write access to the file.", "PERMISSION_DENIED")
        if ss.role(user) not in ("owner", "writer"):
            raise ApiError(403, "The user does not have sufficient permissions for this file.", "PERMISSION_DENIED")
        role = data.get("role", "reader")
        if data.get("type") in ("user", "group") and data.get("emailAddress"):
            ss.shares[data["emailAddress"]] = "writer" if role in ("writer", "owner") else "reader"
        return {"kind": "drive#permission", "id": secrets.token_hex(6), "type": data.get("type"), "role": role}

    def _api_permissions(self, sid: str, user: str, scopes: frozenset) -> dict:
        ss = self.spreadsheets.get(sid)
        if ss is None or ss.role(user) is None:
            raise ApiError(404, f"File not found: {sid}.", "NOT_FOUND")
        if SCOPE_DRIVE not in scopes and not (SCOPE_DRIVE_FILE in scopes and ss.created_by_app):
            raise ApiError(404, f"File not found: {sid}.", "NOT_FOUND")
        perms = [{"kind": "drive#permission", "id": "owner", "type": "user", "role": "owner", "emailAddress": ss.owner}]
        perms += [{"kind": "drive#permission", "id": f"p{i}", "type": "user", "role": r, "emailAddress": e}
                  for i, (e, r) in enumerate(sorted(ss.shares.items()))]
        return {"kind": "drive#permissionList", "permissions": perms}

    def _api_get_notes(self, ss: Spreadsheet, ranges: list) -> dict:
        """spreadsheets.get with `ranges` and a field mask asking for the cells' notes only."""
        by_sheet: dict[int, list] = {}
        for a1 in ranges:
            g = self._resolve(ss, a1)
            sheet = ss.sheet_by_id(g.sheet_id)
            rows = []
            for r in range(g.r1, g.r2):
                rows.append({"values": [({"note": sheet.cells[(r, c)]["note"]}
                                         if sheet.cells.get((r, c), {}).get("note") else {})
                                        for c in range(g.c1, g.c2)]})
            by_sheet.setdefault(g.sheet_id, []).append({"startRow": g.r1, "startColumn": g.c1, "rowData": rows})
        return {"sheets": [{"properties": {"sheetId": sid, "title": ss.sheet_by_id(sid).title}, "data": data}
                           for sid, data in by_sheet.items()]}

    def _api_get(self, ss: Spreadsheet, user: str) -> dict:
        sheets = []
        for s in sorted(ss.sheets, key=lambda s: s.props["index"]):
            entry: dict[str, Any] = {"properties": copy.deepcopy(s.props)}
            prs = []
            for pr in s.protected:
                can = self._editor_of(ss, pr, user)
                shown = {k: v for k, v in pr.items() if k != "editors" or can}
                shown["requestingUserCanEdit"] = can
                prs.append(copy.deepcopy(shown))
            if prs:
                entry["protectedRanges"] = prs
            sheets.append(entry)
        return {"spreadsheetId": ss.id, "properties": copy.deepcopy(ss.props), "sheets": sheets,
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{ss.id}/edit"}

    # ---- ranges
    def _resolve(self, ss: Spreadsheet, a1: str) -> Grid:
        try:
            name, ref = split_a1(a1)
        except ValueError:
            raise bad_request(f"Unable to parse range: {a1}") from None
        if name is None:
            # A bare "Tab" is a sheet when one has that name; otherwise a reference on the first sheet.
            sheet = ss.sheet_by_title(ref or "")
            if sheet is not None:
                ref = None
            elif ref and is_ref(ref):
                sheet = min(ss.sheets, key=lambda s: s.props["index"])
            else:
                raise bad_request(f"Unable to parse range: {a1}")
        else:
            sheet = ss.sheet_by_title(name)
            if sheet is None:
                raise bad_request(f"Unable to parse range: {a1}")
        if ref is None:
            return Grid(sheet.id, 0, sheet.rows, 0, sheet.cols)
        try:
            r1, c1, r2, c2 = parse_ref(ref)
        except ValueError:
            raise bad_request(f"Unable to parse range: {a1}") from None
        g = Grid(sheet.id, r1 or 0, sheet.rows if r2 is None else r2 + 1,
                 c1 or 0, sheet.cols if c2 is None else c2 + 1)
        if g.r2 > sheet.rows or g.c2 > sheet.cols or g.r1 >= sheet.rows or g.c1 >= sheet.cols:
            raise bad_request(f"Range ({quote_sheet(sheet.title)}!{ref}) exceeds grid limits. "
                              f"Max rows: {sheet.rows}, max columns: {sheet.cols}")
        return g

    def _grid_from_json(self, ss: Spreadsheet, gr: dict, where: str) -> Grid:
        sheet = ss.sheet_by_id(gr.get("sheetId", 0))
        if sheet is None:
            raise bad_request(f"Invalid {where}: No grid with id: {gr.get('sheetId', 0)}")
        g = Grid(sheet.id, gr.get("startRowIndex", 0), gr.get("endRowIndex", sheet.rows),
                 gr.get("startColumnIndex", 0), gr.get("endColumnIndex", sheet.cols))
        if g.r2 > sheet.rows or g.c2 > sheet.cols or g.r1 < 0 or g.c1 < 0 or g.r1 > g.r2 or g.c1 > g.c2:
            raise bad_request(f"Invalid {where}: Range ({quote_sheet(sheet.title)}!"
                              f"{col_letters(g.c1)}{g.r1 + 1}:{col_letters(max(g.c2 - 1, 0))}{g.r2}) exceeds grid "
                              f"limits. Max rows: {sheet.rows}, max columns: {sheet.cols}")
        return g

    @staticmethod
    def _a1_of(sheet: Sheet, g: Grid) -> str:
        a = f"{col_letters(g.c1)}{g.r1 + 1}"
        b = f"{col_letters(g.c2 - 1)}{g.r2}"
        return f"{quote_sheet(sheet.title)}!{a}" + ("" if a == b else f":{b}")

    # ---- protection
    def _editor_of(self, ss: Spreadsheet, pr: dict, user: str) -> bool:
        return user == ss.owner or user in (pr.get("editors") or {}).get("users", [])

    def _check_edit(self, ss: Spreadsheet, user: str, g: Grid) -> None:
        sheet = ss.sheet_by_id(g.sheet_id)
        for pr in sheet.protected:
            if pr.get("warningOnly") or self._editor_of(ss, pr, user):
                continue
            pg = self._grid_from_json(ss, pr["range"], "protectedRange")
            if not pg.intersects(g):
                continue
            holes = [self._grid_from_json(ss, u, "unprotectedRange") for u in pr.get("unprotectedRanges", [])]
            inter = Grid(g.sheet_id, max(g.r1, pg.r1), min(g.r2, pg.r2), max(g.c1, pg.c1), min(g.c2, pg.c2))
            if not holes or any(not any(h.contains(r, c) for h in holes) for r, c in inter.cells()):
                raise ApiError(403, PROTECTED_MESSAGE, "PERMISSION_DENIED")

    # ---- values
    def _api_values_get(self, ss: Spreadsheet, a1: str, q: dict) -> dict:
        g = self._resolve(ss, a1)
        return self._value_range(ss, g, q)

    def _api_batch_get(self, ss: Spreadsheet, ranges: list, q: dict) -> dict:
        out: dict[str, Any] = {"spreadsheetId": ss.id}
        if ranges:
            grids = [self._resolve(ss, r) for r in ranges]
            out["valueRanges"] = [self._value_range(ss, g, q) for g in grids]
        return out

    def _value_range(self, ss: Spreadsheet, g: Grid, q: dict) -> dict:
        sheet = ss.sheet_by_id(g.sheet_id)
        dim = q.get("majorDimension", "ROWS")
        if dim not in ("ROWS", "COLUMNS"):
            raise bad_request(f"Invalid value at 'major_dimension' ({dim})")
        values = self._read(ss, g, q.get("valueRenderOption", "FORMATTED_VALUE"),
                            q.get("dateTimeRenderOption", "SERIAL_NUMBER"), dim)
        vr: dict[str, Any] = {"range": self._a1_of(sheet, g), "majorDimension": dim}
        if values:
            vr["values"] = values
        return vr

    def _read(self, ss: Spreadsheet, g: Grid, render: str, dt: str, dim: str) -> list[list[object]]:
        if render not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
            raise bad_request(f"Invalid value at 'value_render_option' ({render})")
        sheet = ss.sheet_by_id(g.sheet_id)
        found: dict[tuple[int, int], object] = {}
        for (r, c), cell in sheet.cells.items():
            if g.contains(r, c):
                v = _render(cell, render, dt, ss.props.get("locale", "en_US"))
                if v is not None and v != "":
                    found[(r - g.r1, c - g.c1)] = v
        if not found:
            return []
        if dim == "COLUMNS":
            found = {(c, r): v for (r, c), v in found.items()}
        n_rows = max(r for r, _ in found) + 1
        rows: list[list[object]] = [[] for _ in range(n_rows)]
        width: dict[int, int] = {}
        for (r, c) in found:
            width[r] = max(width.get(r, 0), c + 1)
        for r in range(n_rows):
            rows[r] = [found.get((r, c), "") for c in range(width.get(r, 0))]
        return rows

    def _api_values_update(self, ss: Spreadsheet, user: str, a1: str, q: dict, data: dict) -> dict:
        option = q.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            raise bad_request("'valueInputOption' is required but not specified" if not option
                              else f"Invalid value at 'value_input_option' ({option})")
        if data.get("range") and data["range"] != a1:
            raise bad_request(f"Requested writing within range [{a1}], but tried writing within range "
                              f"[{data['range']}]")
        return self._write(ss, user, a1, data, option)

    def _api_values_batch_update(self, ss: Spreadsheet, user: str, data: dict) -> dict:
        option = data.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            raise bad_request("'valueInputOption' is required but not specified" if not option
                              else f"Invalid value at 'data.value_input_option' ({option})")
        responses = [self._write(ss, user, vr.get("range", ""), vr, option) for vr in data.get("data", [])]
        return {"spreadsheetId": ss.id,
                "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
                "totalUpdatedColumns": max((r.get("updatedColumns", 0) for r in responses), default=0),
                "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
                "totalUpdatedSheets": len({r["updatedRange"].rsplit("!", 1)[0] for r in responses
                                           if "updatedRange" in r}),
                "responses": responses}

    def _write(self, ss: Spreadsheet, user: str, a1: str, vr: dict, option: str) -> dict:
        g = self._resolve(ss, a1)
        sheet = ss.sheet_by_id(g.sheet_id)
        rows = vr.get("values") or []
        if vr.get("majorDimension", "ROWS") == "COLUMNS":
            width = max((len(r) for r in rows), default=0)
            rows = [[col[i] if i < len(col) else None for col in rows] for i in range(width)]
        if not rows:
            return {"spreadsheetId": ss.id, "updatedRange": self._a1_of(sheet, g)}
        height, width = len(rows), max(len(r) for r in rows)
        single = g.r2 - g.r1 == 1 and g.c2 - g.c1 == 1
        target = Grid(g.sheet_id, g.r1, g.r1 + height, g.c1, g.c1 + width)
        if not single and (target.r2 > g.r2 or target.c2 > g.c2):
            raise bad_request(f"Requested writing within range [{a1}], but tried writing to row "
                              f"[{target.r2}]" if target.r2 > g.r2 else
                              f"Requested writing within range [{a1}], but tried writing to column "
                              f"[{col_letters(target.c2 - 1)}]")
        if target.r2 > sheet.rows or target.c2 > sheet.cols:
            raise bad_request(f"Range ({self._a1_of(sheet, target)}) exceeds grid limits. "
                              f"Max rows: {sheet.rows}, max columns: {sheet.cols}")
        self._check_edit(ss, user, target)
        cells = 0
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is None:
                    continue                       # null values are skipped, as documented
                if isinstance(v, (dict, list)):
                    raise bad_request(f"Invalid values[{i}][{j}]: {json.dumps(v)}")
                self._put_input(ss, sheet, g.r1 + i, g.c1 + j, v, option)
                cells += 1
        return {"spreadsheetId": ss.id, "updatedRange": self._a1_of(sheet, target), "updatedRows": height,
                "updatedColumns": width, "updatedCells": cells}

    def _put_input(self, ss: Spreadsheet, sheet: Sheet, r: int, c: int, v: object, option: str) -> None:
        cell = dict(sheet.cells.get((r, c), {}))
        cell.pop("f", None)
        cell.pop("v", None)
        if option == "USER_ENTERED" and isinstance(v, str):
            kind, value, fmt = _user_entered(v, ss.props.get("locale", "en_US"))
            if kind == "formula":
                cell["f"] = value
            elif value is not None:
                cell["v"] = value
            if fmt:
                cell["fmt"] = {**(cell.get("fmt") or {}), "numberFormat": fmt}
        elif not (isinstance(v, str) and v == ""):
            cell["v"] = v
        self._store(sheet, r, c, cell)

    @staticmethod
    def _store(sheet: Sheet, r: int, c: int, cell: dict) -> None:
        cell = {k: v for k, v in cell.items() if not (v is None or v == {} or (isinstance(v, str) and v == ""))}
        if cell:
            sheet.cells[(r, c)] = cell
        else:
            sheet.cells.pop((r, c), None)

    def _clear(self, ss: Spreadsheet, user: str, a1: str) -> str:
        g = self._resolve(ss, a1)
        self._check_edit(ss, user, g)
        sheet = ss.sheet_by_id(g.sheet_id)
        for key in [k for k in sheet.cells if g.contains(*k)]:
            cell = dict(sheet.cells[key])
            cell.pop("v", None)
            cell.pop("f", None)
            self._store(sheet, *key, cell)
        return self._a1_of(sheet, g)

    def _api_batch_clear(self, ss: Spreadsheet, user: str, ranges: list) -> dict:
        return {"spreadsheetId": ss.id, "clearedRanges": [self._clear(ss, user, r) for r in ranges]}

    # ---- spreadsheets.batchUpdate
    def _api_batch_update(self, ss: Spreadsheet, user: str, data: dict) -> dict:
        replies = []
        for i, req in enumerate(data.get("requests", [])):
            if len(req) != 1:
                raise bad_request(f"Invalid requests[{i}]: exactly one kind of request must be set")
            (name, body), = req.items()
            handler = getattr(self, f"_req_{name}", None)
            if handler is None:
                raise bad_request(f"Invalid JSON payload received. Unknown name \"{name}\" at 'requests[{i}]': "
                                  "Cannot find field.")
            reply = handler(ss, user, body, f"requests[{i}].{name}")
            replies.append(reply or {})
        return {"spreadsheetId": ss.id, "replies": replies}

    def _add_sheet(self, ss: Spreadsheet, props: dict, where: str = "requests[0].addSheet") -> dict:
        title = props.get("title") or f"Sheet{len(ss.sheets) + 1}"
        if ss.sheet_by_title(title):
            raise bad_request(f"Invalid {where}: A sheet with the name \"{title}\" already exists. "
                              "Please enter another name.")
        sid = props.get("sheetId")
        if sid is None:
            sid = 0 if not ss.sheets else max(s.id for s in ss.sheets) + next(self._ids) * 7919
        elif ss.sheet_by_id(sid):
            raise bad_request(f"Invalid {where}: Sheet with id {sid} already exists.")
        grid = {"rowCount": 1000, "columnCount": 26, **(props.get("gridProperties") or {})}
        index = props.get("index", len(ss.sheets))
        for s in ss.sheets:
            if s.props["index"] >= index:
                s.props["index"] += 1
        full = {**props, "sheetId": sid, "title": title, "index": min(index, len(ss.sheets)),
                "sheetType": "GRID", "gridProperties": grid}
        ss.add(Sheet(full))
        return copy.deepcopy(full)

    def _req_addSheet(self, ss, user, body, where):
        return {"addSheet": {"properties": self._add_sheet(ss, dict(body.get("properties") or {}), where)}}

    def _req_deleteSheet(self, ss, user, body, where):
        sheet = ss.sheet_by_id(body.get("sheetId"))
        if sheet is None:
            raise bad_request(f"Invalid {where}: No grid with id: {body.get('sheetId')}")
        if len(ss.sheets) == 1:
            raise bad_request(f"Invalid {where}: You can't remove all the sheets in a document.")
        self._check_edit(ss, user, Grid(sheet.id, 0, sheet.rows, 0, sheet.cols))
        ss.remove(sheet)
        for i, s in enumerate(sorted(ss.sheets, key=lambda s: s.props["index"])):
            s.props["index"] = i

    def _req_updateSheetProperties(self, ss, user, body, where):
        props = body.get("properties") or {}
        sheet = ss.sheet_by_id(props.get("sheetId", 0))
        if sheet is None:
            raise bad_request(f"Invalid {where}: No grid with id: {props.get('sheetId', 0)}")
        fields = _fields(body.get("fields"), where)
        if "title" in fields or "*" in fields:
            other = ss.sheet_by_title(props.get("title", sheet.title))
            if other is not None and other is not sheet:
                raise bad_request(f"Invalid {where}: A sheet with the name \"{props['title']}\" already exists.")
        new = copy.deepcopy(sheet.props)
        for f in (fields if "*" not in fields else [k for k in props if k != "sheetId"]):
            _set_path(new, f, _get_path(props, f))
        new["sheetId"] = sheet.id
        rows, cols = new["gridProperties"].get("rowCount"), new["gridProperties"].get("columnCount")
        if not isinstance(rows, int) or not isinstance(cols, int) or rows < 1 or cols < 1:
            raise bad_request(f"Invalid {where}: grid must have at least one row and one column")
        if any(r >= rows or c >= cols for r, c in sheet.cells):
            # Shrinking drops cells, as in Sheets.
            sheet.cells = {k: v for k, v in sheet.cells.items() if k[0] < rows and k[1] < cols}
        sheet.props = new

    def _req_updateSpreadsheetProperties(self, ss, user, body, where):
        fields = _fields(body.get("fields"), where)
        for f in (fields if "*" not in fields else list(body.get("properties", {}))):
            _set_path(ss.props, f, _get_path(body.get("properties") or {}, f))

    def _req_updateDimensionProperties(self, ss, user, body, where):
        rng = body.get("range") or {}
        sheet = ss.sheet_by_id(rng.get("sheetId", 0))
        if sheet is None:
            raise bad_request(f"Invalid {where}: No grid with id: {rng.get('sheetId', 0)}")
        dim = rng.get("dimension")
        limit = sheet.rows if dim == "ROWS" else sheet.cols if dim == "COLUMNS" else None
        if limit is None or rng.get("endIndex", limit) > limit:
            raise bad_request(f"Invalid {where}: bad dimension range")
        for i in range(rng.get("startIndex", 0), rng.get("endIndex", limit)):
            sheet.dims[(dim, i)] = {**sheet.dims.get((dim, i), {}), **(body.get("properties") or {})}

    def _cell_write(self, ss, user, g: Grid, data_for: Callable[[int, int], dict | None], fields: list[str],
                    where: str) -> None:
        self._check_edit(ss, user, g)
        sheet = ss.sheet_by_id(g.sheet_id)
        for r, c in g.cells():
            src = data_for(r, c) or {}
            cell = dict(sheet.cells.get((r, c), {}))
            for f in fields:
                _apply_cell_field(cell, src, f, where)
            self._store(sheet, r, c, cell)

    def _req_updateCells(self, ss, user, body, where):
        fields = _fields(body.get("fields"), where)
        rows = body.get("rows") or []
        if "range" in body:
            g = self._grid_from_json(ss, body["range"], where)
        elif "start" in body:
            st = body["start"]
            sheet = ss.sheet_by_id(st.get("sheetId", 0))
            if sheet is None:
                raise bad_request(f"Invalid {where}: No grid with id: {st.get('sheetId', 0)}")
            width = max((len(r.get("values") or []) for r in rows), default=0)
            g = self._grid_from_json(ss, {"sheetId": sheet.id, "startRowIndex": st.get("rowIndex", 0),
                                          "endRowIndex": st.get("rowIndex", 0) + len(rows),
                                          "startColumnIndex": st.get("columnIndex", 0),
                                          "endColumnIndex": st.get("columnIndex", 0) + width}, where)
        else:
            raise bad_request(f"Invalid {where}: either range or start must be set")

        def data_for(r, c):
            i, j = r - g.r1, c - g.c1
            if i < len(rows):
                vals = rows[i].get("values") or []
                if j < len(vals):
                    return vals[j]
            return None

        if "start" in body:
            # With `start`, only the cells given are written.
            sheet = ss.sheet_by_id(g.sheet_id)
            self._check_edit(ss, user, g)
            for i, row in enumerate(rows):
                for j, src in enumerate(row.get("values") or []):
                    cell = dict(sheet.cells.get((g.r1 + i, g.c1 + j), {}))
                    for f in fields:
                        _apply_cell_field(cell, src or {}, f, where)
                    self._store(sheet, g.r1 + i, g.c1 + j, cell)
        else:
            self._cell_write(ss, user, g, data_for, fields, where)

    def _req_repeatCell(self, ss, user, body, where):
        g = self._grid_from_json(ss, body.get("range") or {}, where)
        src = body.get("cell") or {}
        self._cell_write(ss, user, g, lambda r, c: src, _fields(body.get("fields"), where), where)

    def _req_setDataValidation(self, ss, user, body, where):
        g = self._grid_from_json(ss, body.get("range") or {}, where)
        rule = body.get("rule")
        if rule is not None:
            _check_rule(rule, where)
        self._cell_write(ss, user, g, lambda r, c: {"dataValidation": rule} if rule else {},
                         ["dataValidation"], where)

    def _req_addProtectedRange(self, ss, user, body, where):
        pr = copy.deepcopy(body.get("protectedRange") or {})
        if "namedRangeId" in pr:
            raise bad_request(f"Invalid {where}: named ranges are not implemented by the stand-in")
        g = self._grid_from_json(ss, pr.get("range") or {}, where)
        if pr.get("warningOnly") and pr.get("editors"):
            raise bad_request(f"Invalid {where}: Editors are not supported with warningOnly protection.")
        sheet = ss.sheet_by_id(g.sheet_id)
        whole = all(k not in pr["range"] for k in ("startRowIndex", "endRowIndex", "startColumnIndex",
                                                     "endColumnIndex"))
        if pr.get("unprotectedRanges") and not whole:
            raise bad_request(f"Invalid {where}: Unprotected ranges are only supported on protected sheets.")
        for u in pr.get("unprotectedRanges", []):
            if u.get("sheetId", 0) != sheet.id:
                raise bad_request(f"Invalid {where}: unprotected range on another sheet")
            self._grid_from_json(ss, u, where)
        pr["range"].setdefault("sheetId", sheet.id)
        pr["protectedRangeId"] = next(self._ids) * 1009
        if not pr.get("warningOnly"):
            users = list((pr.get("editors") or {}).get("users", []))
            if user not in users:
                users.append(user)          # the requesting user always keeps edit access
            pr["editors"] = {**(pr.get("editors") or {}), "users": users}
        sheet.protected.append(pr)
        return {"addProtectedRange": {"protectedRange": copy.deepcopy(pr)}}

    def _req_updateProtectedRange(self, ss, user, body, where):
        new = body.get("protectedRange") or {}
        fields = _fields(body.get("fields"), where)
        for sheet in ss.sheets:
            for pr in sheet.protected:
                if pr["protectedRangeId"] == new.get("protectedRangeId"):
                    if not self._editor_of(ss, pr, user):
                        raise ApiError(403, PROTECTED_MESSAGE, "PERMISSION_DENIED")
                    for f in fields:
                        if f in ("protectedRangeId", "requestingUserCanEdit"):
                            continue
                        if f in new:
                            pr[f] = copy.deepcopy(new[f])
                        else:
                            pr.pop(f, None)
                    if pr.get("warningOnly") and (pr.get("editors") or {}).get("users"):
                        raise bad_request(f"Invalid {where}: Editors are not supported with warningOnly protection.")
                    if not pr.get("warningOnly"):
                        users = list((pr.get("editors") or {}).get("users", []))
                        if user not in users:
                            users.append(user)
                        pr["editors"] = {**(pr.get("editors") or {}), "users": users}
                    return None
        raise bad_request(f"Invalid {where}: No protected range with id: {new.get('protectedRangeId')}")

    def _req_deleteProtectedRange(self, ss, user, body, where):
        pid = body.get("protectedRangeId")
        for sheet in ss.sheets:
            for pr in sheet.protected:
                if pr["protectedRangeId"] == pid:
                    if not self._editor_of(ss, pr, user):
                        raise ApiError(403, PROTECTED_MESSAGE, "PERMISSION_DENIED")
                    sheet.protected.remove(pr)
                    return None
        raise bad_request(f"Invalid {where}: No protected range with id: {pid}")


# ------------------------------------------------------------------ cell helpers

def _fields(spec: object, where: str) -> list[str]:
    if not spec or not isinstance(spec, str):
        raise bad_request(f"Invalid {where}: At least one field must be specified.")
    return [f.strip() for f in spec.split(",") if f.strip()]


def _get_path(d: dict, path: str) -> object:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _with_path(d: dict, path: str, value: object) -> dict:
    """A new dict equal to `d` with `path` set (or removed when `value` is None); `d` is not changed.
    Stored cell data is shared between cells and never changed in place."""
    head, _, rest = path.partition(".")
    out = dict(d)
    if rest:
        inner = _with_path(d.get(head) or {}, rest, value)
        if inner:
            out[head] = inner
        else:
            out.pop(head, None)
    elif value is None:
        out.pop(head, None)
    else:
        out[head] = value
    return out


def _set_path(d: dict, path: str, value: object) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    if value is None:
        d.pop(parts[-1], None)
    else:
        d[parts[-1]] = copy.deepcopy(value)


_CELL_FIELDS = ("userEnteredValue", "userEnteredFormat", "note", "dataValidation")


def _apply_cell_field(cell: dict, src: dict, f: str, where: str) -> None:
    """Copy-on-write update of one masked field from CellData `src` into the stored `cell`."""
    if f == "*":
        for top in _CELL_FIELDS:
            _apply_cell_field(cell, src, top, where)
        return
    top = f.split(".")[0]
    if top not in _CELL_FIELDS:
        raise bad_request(f"Invalid {where}: Invalid field mask: {f}")
    if top == "userEnteredValue":
        cell.pop("v", None)
        cell.pop("f", None)
        ev = src.get("userEnteredValue") or {}
        if "formulaValue" in ev:
            cell["f"] = ev["formulaValue"]
        elif "stringValue" in ev:
            cell["v"] = ev["stringValue"]      # a string value is text, whatever it starts with
        elif "numberValue" in ev:
            cell["v"] = ev["numberValue"]
        elif "boolValue" in ev:
            cell["v"] = ev["boolValue"]
    elif top == "note":
        cell["note"] = src.get("note") or ""
    elif top == "dataValidation":
        cell["dv"] = src.get("dataValidation") or None
    else:
        sub = f[len("userEnteredFormat"):].lstrip(".")
        given = src.get("userEnteredFormat") or {}
        cell["fmt"] = given if not sub else _with_path(cell.get("fmt") or {}, sub, _get_path(given, sub))


_CONDITIONS = {"NUMBER_GREATER", "NUMBER_GREATER_THAN_EQ", "NUMBER_LESS", "NUMBER_LESS_THAN_EQ", "NUMBER_EQ",
               "NUMBER_NOT_EQ", "NUMBER_BETWEEN", "NUMBER_NOT_BETWEEN", "TEXT_CONTAINS", "TEXT_NOT_CONTAINS",
               "TEXT_IS_EMAIL", "TEXT_IS_URL", "DATE_IS_VALID", "ONE_OF_RANGE", "ONE_OF_LIST", "BLANK",
               "NOT_BLANK", "CUSTOM_FORMULA", "BOOLEAN", "TEXT_EQ", "DATE_EQ", "DATE_BEFORE", "DATE_AFTER"}


def _check_rule(rule: dict, where: str) -> None:
    cond = rule.get("condition") or {}
    if cond.get("type") not in _CONDITIONS:
        raise bad_request(f"Invalid {where}: Invalid ConditionType: {cond.get('type')}")
    vals = cond.get("values") or []
    if cond["type"] in ("ONE_OF_LIST",) and not vals:
        raise bad_request(f"Invalid {where}: ONE_OF_LIST requires at least one value")
    if cond["type"] == "CUSTOM_FORMULA" and (len(vals) != 1 or not str(vals[0].get("userEnteredValue", ""))
                                             .startswith("=")):
        raise bad_request(f"Invalid {where}: CUSTOM_FORMULA requires one formula starting with '='")


def _separators(locale: str) -> tuple[str, str]:
    """(thousands, decimal) for a locale; Vietnamese and most of Europe group with '.'."""
    lang = locale.split("_")[0]
    return (".", ",") if lang in ("vi", "de", "es", "it", "pt", "id", "tr", "nl", "da") else (",", ".")


def _user_entered(text: str, locale: str) -> tuple[str, object, dict | None]:
    """What Sheets makes of typed text: ("formula", "=...", None) | ("value", v, numberFormat|None)."""
    if text.startswith("="):
        return "formula", text, None
    if text.startswith("'"):
        return "value", text[1:], None
    t = text.strip()
    if not t:
        return "value", None, None
    if t.upper() in ("TRUE", "FALSE"):
        return "value", t.upper() == "TRUE", None
    thousands, decimal = _separators(locale)
    g, d = re.escape(thousands), re.escape(decimal)
    m = re.match(rf"^([+-]?)(\d{{1,3}}(?:{g}\d{{3}})+|\d+)(?:{d}(\d+))?(%?)$", t)
    if m:
        whole = int(m.group(2).replace(thousands, ""))
        value: float | int = float(f"{whole}.{m.group(3)}") if m.group(3) else whole
        if m.group(1) == "-":
            value = -value
        if m.group(4):
            return "value", value / 100, {"type": "PERCENT", "pattern": "0.00%"}
        return "value", value, None
    day_first = locale.split("_")[0] != "en"
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", t) or re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", t)
    if m:
        a, b, c = (int(x) for x in m.groups())
        y, mo, dd = (a, b, c) if len(m.group(1)) == 4 else ((c, b, a) if day_first else (c, a, b))
        try:
            serial = (date(y, mo, dd) - EPOCH).days
        except ValueError:
            return "value", text, None
        return "value", serial, {"type": "DATE", "pattern": "dd/mm/yyyy" if day_first else "M/d/yyyy"}
    return "value", text, None


def _render(cell: dict, render: str, dt: str, locale: str) -> object:
    if "f" in cell:
        return cell["f"] if render == "FORMULA" else None   # formulas are not calculated here
    v = cell.get("v")
    if v is None:
        return None
    if isinstance(v, bool):
        return ("TRUE" if v else "FALSE") if render == "FORMATTED_VALUE" else v
    if isinstance(v, (int, float)):
        nf = (cell.get("fmt") or {}).get("numberFormat") or {}
        if nf.get("type") in ("DATE", "DATE_TIME") and (render == "FORMATTED_VALUE" or dt == "FORMATTED_STRING"):
            d = EPOCH + timedelta(days=int(v))
            return f"{d:%d/%m/%Y}" if locale.split("_")[0] != "en" else f"{d.month}/{d.day}/{d.year}"
        if render != "FORMATTED_VALUE":
            return int(v) if float(v).is_integer() else v
        if nf.get("type") == "PERCENT":
            return f"{v * 100:.2f}%".replace(".", _separators(locale)[1])
        if float(v).is_integer():
            return str(int(v))
        return repr(float(v)).replace(".", _separators(locale)[1])
    return v


def _kind(method: str, path: str) -> str:
    if path == "/token":
        return "token"
    if path.startswith("/v4/spreadsheets") or path.startswith("/drive/v3/"):
        return "read" if method == "GET" else "write"
    return "other"


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _rs256_ok(public_key, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


# ------------------------------------------------------------------ HTTP

class _Drop(Exception):
    """Close the connection without an answer (an injected failure)."""


class _Handler(BaseHTTPRequestHandler):
    standin: SheetsStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, payload, extra = self.standin.handle(self.command, parts.path, query, self.headers, body)
        except _Drop:
            self.close_connection = True
            return
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
