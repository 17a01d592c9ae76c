"""Staying inside Google's quota: count every request, and back off on 429 and 5xx.

Google allows 60 read and 60 write requests per minute per user, refilled every minute. The door
batches everything, so a normal run makes a handful of requests; when Google still answers 429
(quota) or 5xx (a passing fault), `BatnHTTPClient` waits and retries with truncated exponential
backoff and jitter, the algorithm Google documents: wait min(base * 2^n + random(0, 1), cap)
seconds, at most `retries` times. Past the bound it stops with a clear Vietnamese message.

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
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})


class GoogleDoorError(Exception):
    """A problem of the Google door, with a message for the user in Vietnamese."""


class QuotaExhausted(GoogleDoorError):
    pass


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
                 backoff: Backoff | None = None, counter: RequestCounter | None = None):
        super().__init__(auth, session)
        self.backoff = backoff or Backoff()
        self.counter = counter if counter is not None else RequestCounter()

    @classmethod
    def factory(cls, backoff: Backoff | None = None, counter: RequestCounter | None = None):
        """What gspread.Client's `http_client` parameter takes: called as http_client(auth, session)."""
        return lambda auth, session=None: cls(auth, session, backoff=backoff, counter=counter)

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        attempt = 0
        while True:
            try:
                response = super().request(method, endpoint, *args, **kwargs)
                self.counter.add(method, endpoint, response.status_code)
                return response
            except APIError as err:
                self.counter.add(method, endpoint, err.response.status_code)
                if not _retryable(err):
                    raise
                last: Exception = err
                retry_after = _retry_after(err.response)
            except (requests.ConnectionError, requests.Timeout) as err:
                self.counter.add(method, endpoint, 0)
                last, retry_after = err, None
            if attempt >= self.backoff.retries:
                raise QuotaExhausted(_exhausted_message(last, attempt + 1)) from last
            wait = self.backoff.delay(attempt, retry_after)
            self.counter.waited += wait
            (self.backoff.sleep or time.sleep)(wait)
            attempt += 1


def _exhausted_message(err: Exception, tries: int) -> str:
    if isinstance(err, APIError) and err.response.status_code == 429:
        why = "Google báo vượt hạn mức gọi API (429: quá 60 lần đọc hoặc 60 lần ghi mỗi phút)"
    elif isinstance(err, APIError):
        why = f"máy chủ Google đang lỗi tạm thời (mã {err.response.status_code})"
    else:
        why = "không kết nối được tới máy chủ Google"
    return (f"{why}; đã thử {tries} lần, chờ lâu dần giữa các lần mà vẫn không được. "
            "Hãy chạy lại sau vài phút: chạy lại không làm trùng hay sai số liệu.")
