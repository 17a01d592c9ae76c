"""Signing in to Google with a service account, and saying clearly in Vietnamese what went wrong.

The key is a service-account JSON file given by `--credentials FILE` or the environment variable
BATN_GOOGLE_CREDENTIALS (a path, or the JSON itself as CI secret stores hold it). Scopes are the
narrowest that work: `spreadsheets` only; `drive.file` is added only when batn creates the
spreadsheet and shares it (drive.file reaches only the files batn itself created).

Credentials are never printed or logged: error messages name the file and the account's e-mail,
never the key or a token.

Testing only: BATN_SHEETS_API_BASE (or `api_base=`) sends every request meant for
*.googleapis.com to a local stand-in of the API, e.g. http://127.0.0.1:PORT, through a transport
adapter mounted on both the API session and the token-refresh session. Only loopback addresses are
accepted, and in that mode any other host is refused, so a test can never reach Google.
"""
from __future__ import annotations

import ipaddress
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread.exceptions import APIError
from requests.adapters import HTTPAdapter

from .quota import Backoff, BatnHTTPClient, GoogleDoorError, RequestCounter

ENV_CREDENTIALS = "BATN_GOOGLE_CREDENTIALS"
ENV_API_BASE = "BATN_SHEETS_API_BASE"          # testing only: a loopback stand-in of the API
SCOPE_SHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
_REQUIRED = ("client_email", "private_key", "token_uri")


class AuthError(GoogleDoorError):
    pass


class SheetAccessError(GoogleDoorError):
    pass


def scopes_for(creating: bool = False) -> list[str]:
    return [SCOPE_SHEETS, SCOPE_DRIVE_FILE] if creating else [SCOPE_SHEETS]


def load_service_account_info(source: str | Path | None = None) -> dict:
    """The service-account key as a dict, from `source` or BATN_GOOGLE_CREDENTIALS."""
    source = source if source not in (None, "") else os.environ.get(ENV_CREDENTIALS) or None
    if source is None:
        raise AuthError("Chưa có khóa tài khoản dịch vụ Google: dùng --credentials TỆP.json hoặc đặt biến môi "
                        f"trường {ENV_CREDENTIALS} (đường dẫn tới tệp khóa JSON). Xem docs/google-sheets.md.")
    text = str(source)
    if text.lstrip().startswith("{"):
        where = f"nội dung biến môi trường {ENV_CREDENTIALS}"
    else:
        path = Path(text).expanduser()
        where = f"tệp khóa {path}"
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise AuthError(f"Không tìm thấy {where}.") from None
        except (OSError, UnicodeDecodeError) as e:
            raise AuthError(f"Không đọc được {where} ({type(e).__name__}).") from None
    try:
        info = json.loads(text)
    except ValueError:
        raise AuthError(f"{where[0].upper()}{where[1:]} không phải JSON hợp lệ; hãy tải lại khóa dạng JSON "
                        "từ Google Cloud Console (IAM > Tài khoản dịch vụ > Khóa).") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else None
        raise AuthError(f"{where[0].upper()}{where[1:]} không phải khóa tài khoản dịch vụ "
                        f"(type = {kind!r}, cần 'service_account'). batn không dùng khóa OAuth của người dùng.")
    missing = [k for k in _REQUIRED if not info.get(k)]
    if missing:
        raise AuthError(f"{where[0].upper()}{where[1:]} thiếu trường {', '.join(missing)}.")
    return info


def credentials_from_info(info: dict, scopes: list[str]) -> service_account.Credentials:
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except (ValueError, TypeError, GoogleAuthError):
        # the library's message may quote part of the key: say what is wrong without it
        raise AuthError(f"Khóa riêng (private_key) của tài khoản {info.get('client_email', '?')} không đọc được: "
                        "tệp khóa bị hỏng hoặc bị sửa. Hãy tạo khóa mới.") from None


# ------------------------------------------------------------------ testing: loopback stand-in

_LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _is_loopback(parts.hostname):
        raise AuthError(f"{ENV_API_BASE} / --api-base chỉ dùng để kiểm thử với máy chủ giả lập trên máy này "
                        f"(http://127.0.0.1:CỔNG); không nhận '{parts.scheme}://{parts.hostname}'.")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class LoopbackAdapter(HTTPAdapter):
    """Sends requests meant for Google APIs to a loopback stand-in; refuses any other host."""

    def __init__(self, base: str):
        super().__init__()
        self.base = check_api_base(base)

    def send(self, request, *args, **kwargs):
        parts = urlsplit(request.url)
        if not _is_loopback(parts.hostname):
            host = parts.hostname or ""
            if not (host.endswith(".googleapis.com") or host == "googleapis.com"):
                raise requests.ConnectionError(f"batn đang ở chế độ kiểm thử ({ENV_API_BASE}): "
                                               f"không gọi tới {host}")
            base = urlsplit(self.base)
            request.url = urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


def _mount(session: requests.Session, base: str) -> None:
    adapter = LoopbackAdapter(base)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


# ------------------------------------------------------------------ connection

@dataclass
class Connection:
    client: gspread.Client
    http: BatnHTTPClient
    account: str                        # the service account's e-mail (who batn acts as)
    counter: RequestCounter
    api_base: str | None = None


def connect(credentials: str | Path | None = None, *, creating: bool = False, api_base: str | None = None,
            backoff: Backoff | None = None, session: requests.Session | None = None,
            account: str = "") -> Connection:
    """A gspread client signed in as the service account (or over `session`, which tests give).

    `api_base` (or BATN_SHEETS_API_BASE) is for tests against the local stand-in only.
    """
    api_base = api_base or os.environ.get(ENV_API_BASE) or None
    if api_base:
        api_base = check_api_base(api_base)
    if session is None:
        info = load_service_account_info(credentials)
        creds = credentials_from_info(info, scopes_for(creating))
        token_session = requests.Session()
        if api_base:
            _mount(token_session, api_base)
        session = AuthorizedSession(creds, auth_request=Request(token_session))
        account = creds.service_account_email
    if api_base:
        _mount(session, api_base)
    counter = RequestCounter()
    client = gspread.Client(None, session=session,  # type: ignore[arg-type]
                            http_client=BatnHTTPClient.factory(backoff, counter))  # type: ignore[arg-type]
    return Connection(client, client.http_client, account, counter, api_base)  # type: ignore[arg-type]


# ------------------------------------------------------------------ errors in the user's words

def explain(err: Exception, spreadsheet: str = "", account: str = "") -> GoogleDoorError:
    """One clear Vietnamese sentence for an error from Google or from signing in."""
    if isinstance(err, GoogleDoorError):
        return err
    who = f"tài khoản {account}" if account else "tài khoản dịch vụ"
    sheet = f"bảng tính {spreadsheet}" if spreadsheet else "bảng tính"
    if isinstance(err, RefreshError):
        return AuthError(f"Google từ chối khóa của {who}: khóa sai, đã bị xóa hoặc tài khoản bị vô hiệu hóa. "
                         "Hãy tạo khóa mới trong Google Cloud Console.")
    if isinstance(err, TransportError) or isinstance(err, requests.ConnectionError):
        return GoogleDoorError("Không kết nối được tới Google để xác thực hoặc đọc bảng tính; kiểm tra mạng.")
    if isinstance(err, APIError):
        code = err.response.status_code
        message = str(err.error.get("message", ""))
        reasons = {d.get("reason") for d in err.error.get("details", []) if isinstance(d, dict)}
        if code == 401:
            return AuthError(f"Google không chấp nhận xác thực của {who} (mã 401): khóa không hợp lệ hoặc đã hết hạn.")
        if code == 403 and "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons:
            return AuthError(f"Quyền truy cập (scope) của {who} không đủ cho thao tác này.")
        if code == 403 and "protected" in message:
            return SheetAccessError(f"{sheet[0].upper()}{sheet[1:]}: {who} không được sửa vùng đang được bảo vệ. "
                                    "Chỉ người được giao mới sửa được ô của đơn vị mình.")
        if code == 403:
            return SheetAccessError(f"{who[0].upper()}{who[1:]} chưa được chia sẻ {sheet}: mở bảng tính, bấm "
                                    f"“Chia sẻ” và thêm {account or 'địa chỉ e-mail của tài khoản dịch vụ'} với quyền "
                                    "Người chỉnh sửa.")
        if code == 404:
            return SheetAccessError(f"Không tìm thấy {sheet}: kiểm tra lại mã bảng tính hoặc đường liên kết.")
        if code == 429:
            return GoogleDoorError("Google báo vượt hạn mức gọi API (429); hãy chạy lại sau vài phút.")
        return GoogleDoorError(f"Google từ chối yêu cầu (mã {code}): {message}")
    return GoogleDoorError(f"Lỗi khi làm việc với Google Sheets: {type(err).__name__}")


@contextmanager
def google_errors(spreadsheet: str = "", account: str = "") -> Iterator[None]:
    try:
        yield
    except GoogleDoorError:
        raise
    except (APIError, GoogleAuthError, requests.ConnectionError) as e:
        raise explain(e, spreadsheet, account) from e


def spreadsheet_key(ref: str) -> str:
    """A spreadsheet id from an id or a docs.google.com URL."""
    ref = ref.strip()
    if ref.startswith(("http://", "https://")):
        try:
            return gspread.utils.extract_id_from_url(ref)
        except gspread.exceptions.NoValidUrlKeyFound:
            raise SheetAccessError(f"Không nhận ra mã bảng tính trong đường liên kết {ref}") from None
    return ref
