"""Signing in to Google, as a person or as a service account, and saying clearly in Vietnamese what
went wrong.

Who batn acts as, first found wins:
1. `--credentials FILE` or the environment variable BATN_GOOGLE_CREDENTIALS (a path, or the JSON
   itself as CI secret stores hold it): a service-account key (servers), or a person's stored
   sign-in (an `authorized_user` JSON, as `batn gsheets dang-nhap` writes);
2. the person signed in with `batn gsheets dang-nhap` on this computer (batn.gsheets.signin).

Scopes are the narrowest that work. A service account asks for `spreadsheets` only, plus
`drive.file` when batn creates and shares a spreadsheet. A person signs in with `drive.file` only
(reaching just the spreadsheets batn itself created for them) and `openid email` (who they are);
see signin.py.

Every request is bounded by a connect and a read timeout (quota.Timeouts), the token requests too.

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

from .quota import Backoff, BatnHTTPClient, GoogleDoorError, RequestCounter, Timeouts

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
    if isinstance(info, dict) and info.get("type") == "authorized_user":
        return info                     # a person's stored sign-in (batn gsheets dang-nhap)
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else None
        raise AuthError(f"{where[0].upper()}{where[1:]} không phải khóa tài khoản dịch vụ "
                        f"(type = {kind!r}, cần 'service_account'), cũng không phải tệp đăng nhập của batn. "
                        "Tệp mã ứng dụng OAuth (client) dùng với batn gsheets dang-nhap --client.")
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

SERVICE_ACCOUNT, PERSON = "service_account", "user"


@dataclass
class Connection:
    client: gspread.Client
    http: BatnHTTPClient
    account: str                        # the e-mail batn acts as (a service account or a person)
    counter: RequestCounter
    api_base: str | None = None
    kind: str = SERVICE_ACCOUNT         # SERVICE_ACCOUNT or PERSON (signed in with dang-nhap)


class _BoundedRequest(Request):
    """google-auth's transport for token requests, never without our timeout."""

    def __init__(self, session: requests.Session, timeouts: Timeouts):
        super().__init__(session)
        self.timeouts = timeouts

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        return super().__call__(url, method=method, body=body, headers=headers,
                                timeout=timeout if timeout is not None else self.timeouts.pair(), **kwargs)


def _no_sign_in() -> AuthError:
    return AuthError("Chưa đăng nhập Google. Người dùng: chạy “batn gsheets dang-nhap” một lần trên máy này. "
                     "Máy chủ: chưa có khóa tài khoản dịch vụ Google, dùng --credentials TỆP.json hoặc đặt biến "
                     f"môi trường {ENV_CREDENTIALS}. Xem docs/google-sheets.md.")


def connect(credentials: str | Path | None = None, *, creating: bool = False, api_base: str | None = None,
            backoff: Backoff | None = None, session: requests.Session | None = None,
            account: str = "", timeouts: Timeouts | None = None, kind: str = SERVICE_ACCOUNT) -> Connection:
    """A gspread client signed in as a service account or as the person who ran `dang-nhap`
    (or over `session`, which tests give).

    `api_base` (or BATN_SHEETS_API_BASE) is for tests against the local stand-in only.
    """
    from . import signin

    api_base = api_base or os.environ.get(ENV_API_BASE) or None
    if api_base:
        api_base = check_api_base(api_base)
    timeouts = timeouts or Timeouts()
    if session is None:
        source = credentials if credentials not in (None, "") else os.environ.get(ENV_CREDENTIALS) or None
        if source is not None:
            info = load_service_account_info(source)
        else:
            info = signin.load_token()
            if info is None:
                raise _no_sign_in()
        token_session = requests.Session()
        if api_base:
            _mount(token_session, api_base)
        if info.get("type") == "authorized_user":
            creds = signin.credentials_from_token(info)
            account, kind = info.get("account", ""), PERSON
        else:
            creds = credentials_from_info(info, scopes_for(creating))
            account, kind = creds.service_account_email, SERVICE_ACCOUNT
        session = AuthorizedSession(creds, auth_request=_BoundedRequest(token_session, timeouts))
    if api_base:
        _mount(session, api_base)
    counter = RequestCounter()
    client = gspread.Client(None, session=session,  # type: ignore[arg-type]
                            http_client=BatnHTTPClient.factory(backoff, counter, timeouts))  # type: ignore[arg-type]
    return Connection(client, client.http_client, account, counter, api_base, kind)  # type: ignore[arg-type]


# ------------------------------------------------------------------ errors in the user's words

def explain(err: Exception, spreadsheet: str = "", account: str = "", kind: str = SERVICE_ACCOUNT
            ) -> GoogleDoorError:
    """One clear Vietnamese sentence for an error from Google or from signing in."""
    if isinstance(err, GoogleDoorError):
        return err
    person = kind == PERSON
    who = f"tài khoản {account}" if account else ("tài khoản Google đã đăng nhập" if person else "tài khoản dịch vụ")
    sheet = f"bảng tính {spreadsheet}" if spreadsheet else "bảng tính"
    if isinstance(err, RefreshError) and person:
        return AuthError(f"Phiên đăng nhập Google của {who} đã hết hạn hoặc đã bị thu hồi: chạy lại "
                         "“batn gsheets dang-nhap”.")
    if isinstance(err, RefreshError):
        return AuthError(f"Google từ chối khóa của {who}: khóa sai, đã bị xóa hoặc tài khoản bị vô hiệu hóa. "
                         "Hãy tạo khóa mới trong Google Cloud Console.")
    if isinstance(err, requests.Timeout):
        return GoogleDoorError("Google không trả lời trong thời gian chờ (mạng chậm hoặc bị chặn); kiểm tra mạng "
                               "rồi chạy lại.")
    if isinstance(err, TransportError) or isinstance(err, requests.ConnectionError):
        return GoogleDoorError("Không kết nối được tới Google để xác thực hoặc đọc bảng tính; kiểm tra mạng.")
    if isinstance(err, APIError):
        code = err.response.status_code
        message = str(err.error.get("message", ""))
        reasons = {d.get("reason") for d in err.error.get("details", []) if isinstance(d, dict)}
        reasons |= {d.get("reason") for d in err.error.get("errors", []) if isinstance(d, dict)}
        if code == 403 and ("storageQuotaExceeded" in reasons or "storage quota" in message.lower()):
            return SheetAccessError("Tài khoản dịch vụ không có dung lượng Google Drive nên không tạo được bảng tính "
                                    "(Google báo 403: storage quota). Hãy đăng nhập bằng tài khoản Google của mình "
                                    "(“batn gsheets dang-nhap”) rồi chạy lại; hoặc tự tạo bảng tính, chia sẻ cho "
                                    f"{account or 'tài khoản dịch vụ'} và chạy lại với --spreadsheet.")
        if code in (403, 404) and person:
            return SheetAccessError(f"Không mở được {sheet} bằng {who}: khi đăng nhập bằng tài khoản Google, batn chỉ "
                                    "có quyền với bảng tính do chính batn tạo (quyền drive.file). Hãy kiểm tra mã bảng "
                                    "tính, hoặc tạo bảng tính bằng “batn gsheets setup” không kèm --spreadsheet.")
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
def google_errors(spreadsheet: str = "", account: str = "", kind: str = SERVICE_ACCOUNT) -> Iterator[None]:
    try:
        yield
    except GoogleDoorError:
        raise
    except (APIError, GoogleAuthError, requests.ConnectionError, requests.Timeout) as e:
        raise explain(e, spreadsheet, account, kind) from e


def spreadsheet_key(ref: str) -> str:
    """A spreadsheet id from an id or a docs.google.com URL."""
    ref = ref.strip()
    if ref.startswith(("http://", "https://")):
        try:
            return gspread.utils.extract_id_from_url(ref)
        except gspread.exceptions.NoValidUrlKeyFound:
            raise SheetAccessError(f"Không nhận ra mã bảng tính trong đường liên kết {ref}") from None
    return ref
