"""Staying inside Google's quota: count every request, and back off on 429 and 5xx.

Google allows 60 read and 60 write requests per minute per user, refilled every minute. The door
batches everything, so a normal run makes a handful of requests; when Google still answers 429
(quota) or 5xx (a passing fault), `BatnHTTPClient` waits and retries with truncated exponential
backoff and jitter, the algorithm Google documents: wait min(base * 2^n + random(0, 1), cap)
seconds, at most `retries` times. Past the bound it stops with a clear Vietnamese message.

Every request is bounded: a connect timeout and a read timeout (`Timeouts`, `(connect, read)` as
requests takes them), so a stalled connection can never hang a scheduled run.

A request is repeated only when repeating it is harmless: a read; a write Google refused before
doing anything (429, or a connection that never opened); a write whose repeat lands on the same
state (values.batchUpdate, and a spreadsheets.batchUpdate made only of requests that set cells or
properties). A write that may have gone through (the answer never came, or a 5xx) and would not be
harmless twice (adding a tab or a protection, creating a spreadsheet) is not repeated blindly:
`UncertainWrite` is raised and the caller verifies what is there (setup reads the spreadsheet again
and plans from what it finds).

The sleep function and the random source are injectable, so tests move a fake clock instead of
waiting.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({429})            # Google did nothing: any request may be sent again
# spreadsheets.batchUpdate requests whose repeat gives the same spreadsheet (they set, never add)
SETTING_REQUESTS = frozenset({"updateCells", "repeatCell", "setDataValidation", "updateSheetProperties",
                              "updateSpreadsheetProperties", "updateDimensionProperties", "updateProtectedRange",
                              "updateBorders"})
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 120.0
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})


class GoogleDoorError(Exception):
    """A problem of the Google door, with a message for the user in Vietnamese."""


class QuotaExhausted(GoogleDoorError):
    pass


class UncertainWrite(GoogleDoorError):
    """A write that may or may not have been applied, and that is not harmless to send twice."""

    def __init__(self, message: str, method: str = "", endpoint: str = ""):
        super().__init__(message)
        self.method, self.endpoint = method, endpoint


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and for each answer once connected."""

    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


def harmless_twice(method: str, endpoint: str, body: Any = None) -> bool:
    """Would sending this request a second time leave the same state as sending it once?"""
    method = method.upper()
    if method == "GET":
        return True
    path = urlsplit(endpoint).path
    if path.endswith(("/values:batchUpdate", ":clear", "/values:batchClear")) or (method == "PUT" and "/values/" in path):
        return True
    if path.endswith(":batchUpdate") and isinstance(body, dict):
        return all(isinstance(r, dict) and set(r) <= SETTING_REQUESTS for r in body.get("requests", []))
    return False


@dataclass
class Backoff:
    retries: int = 6            # retries after the first attempt
    base: float = 1.0           # seconds
    cap: float = 64.0           # no single wait longer than this
    sleep: Callable[[float], None] | None = None   # None: time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.base * (2 ** attempt) + self.rng.random(), self.cap)
        return max(wait, retry_after or 0.0)


@dataclass
class RequestCounter:
    """Every HTTP request the door makes, retries included (method, path, status)."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)
    waited: float = 0.0

    def add(self, method: str, url: str, status: int) -> None:
        self.calls.append((method.upper(), urlsplit(url).path, status))

    @property
    def total(self) -> int:
        return len(self.calls)

    @property
    def reads(self) -> int:
        return sum(1 for m, _p, _s in self.calls if m == "GET")

    @property
    def writes(self) -> int:
        return self.total - self.reads

    @property
    def retries(self) -> int:
        return sum(1 for _m, _p, s in self.calls if s in RETRY_STATUSES or s == 0)

    def summary(self) -> str:
        text = f"Số lần gọi Google Sheets API: {self.total} (đọc {self.reads}, ghi {self.writes})"
        if self.retries:
            text += f"; {self.retries} lần bị từ chối tạm thời, đã chờ {self.waited:.0f} giây rồi thử lại"
        return text


def _retryable(err: APIError) -> bool:
    code = err.response.status_code
    if code in RETRY_STATUSES:
        return True
    if code == 403:  # Drive reports some rate limits as 403
        reasons = {e.get("reason") for e in err.error.get("errors", []) if isinstance(e, dict)}
        reasons |= {d.get("reason") for d in err.error.get("details", []) if isinstance(d, dict)}
        return bool(reasons & RATE_REASONS)
    return False


def _retry_after(resp: requests.Response | None) -> float | None:
    try:
        return float(resp.headers["Retry-After"]) if resp is not None else None
    except (KeyError, TypeError, ValueError):
        return None


class BatnHTTPClient(HTTPClient):
    """gspread's HTTP client with counting and bounded backoff. Build it with `factory()`."""

    backoff: Backoff
    counter: RequestCounter

    def __init__(self, auth: Any, session: requests.Session | None = None, *,
                 backoff: Backoff | None = None, counter: RequestCounter | None = None,
                 timeouts: Timeouts | None = None):
        super().__init__(auth, session)
        self.backoff = backoff or Backoff()
        self.counter = counter if counter is not None else RequestCounter()
        self.timeouts = timeouts or Timeouts()
        self.set_timeout(self.timeouts.pair())       # gspread passes it to every session.request

    @classmethod
    def factory(cls, backoff: Backoff | None = None, counter: RequestCounter | None = None,
                timeouts: Timeouts | None = None):
        """What gspread.Client's `http_client` parameter takes: called as http_client(auth, session)."""
        return lambda auth, session=None: cls(auth, session, backoff=backoff, counter=counter, timeouts=timeouts)

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        attempt = 0
        harmless = harmless_twice(method, endpoint, kwargs.get("json"))
        while True:
            try:
                response = super().request(method, endpoint, *args, **kwargs)
                self.counter.add(method, endpoint, response.status_code)
                return response
            except APIError as err:
                code = err.response.status_code
                self.counter.add(method, endpoint, code)
                if not _retryable(err):
                    raise
                if not harmless and code not in REFUSED_STATUSES and not _rate_limited(err):
                    raise UncertainWrite(_uncertain_message(f"mã {code}"), method, endpoint) from err
                last: Exception = err
                retry_after = _retry_after(err.response)
            except (requests.ConnectionError, requests.Timeout) as err:
                self.counter.add(method, endpoint, 0)
                if not harmless and not _never_sent(err):
                    raise UncertainWrite(_uncertain_message(_what_happened(err)), method, endpoint) from err
                last, retry_after = err, None
            if attempt >= self.backoff.retries:
                raise QuotaExhausted(_exhausted_message(last, attempt + 1)) from last
            wait = self.backoff.delay(attempt, retry_after)
            self.counter.waited += wait
            (self.backoff.sleep or time.sleep)(wait)
            attempt += 1


def _rate_limited(err: APIError) -> bool:
    """A 403 that is a rate limit (Drive's way of saying 429): refused, nothing done."""
    return err.response.status_code == 403


def _never_sent(err: Exception) -> bool:
    """The connection never opened, so the request never reached Google."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError) and not isinstance(err, requests.ReadTimeout):
        text = repr(err)
        return any(w in text for w in ("NewConnectionError", "Failed to establish", "NameResolutionError",
                                       "Connection refused"))
    return False


def _what_happened(err: Exception) -> str:
    if isinstance(err, requests.ReadTimeout):
        return "quá thời gian chờ Google trả lời"
    return "kết nối bị ngắt giữa chừng"


def _uncertain_message(why: str) -> str:
    return (f"Google chưa trả lời rõ một lệnh ghi ({why}): không biết lệnh đó đã được thực hiện hay chưa, nên "
            "batn không tự gửi lại (gửi lại có thể làm trùng). Chạy lại lệnh: batn đọc lại bảng tính và chỉ làm "
            "phần còn thiếu.")


def _exhausted_message(err: Exception, tries: int) -> str:
    if isinstance(err, APIError) and err.response.status_code == 429:
        why = "Google báo vượt hạn mức gọi API (429: quá 60 lần đọc hoặc 60 lần ghi mỗi phút)"
    elif isinstance(err, APIError):
        why = f"máy chủ Google đang lỗi tạm thời (mã {err.response.status_code})"
    elif isinstance(err, requests.Timeout):
        why = "Google không trả lời trong thời gian chờ (mạng chậm hoặc bị chặn)"
    else:
        why = "không kết nối được tới máy chủ Google"
    return (f"{why}; đã thử {tries} lần, chờ lâu dần giữa các lần mà vẫn không được. "
            "Hãy chạy lại sau vài phút: chạy lại không làm trùng hay sai số liệu.")
