"""`batn gsheets dang-nhap`: a clerk signs in with their own Google account, no cloud console.

Google's OAuth flow for installed applications (google-auth-oauthlib's InstalledAppFlow, with PKCE):

- with a browser on this computer: batn listens on 127.0.0.1 (a free port), opens Google's consent
  page, and Google sends the browser back to that loopback address with the code;
- without one (a server over SSH): batn prints the address to open on any device; after consent the
  browser lands on an address starting with http://127.0.0.1 that does not load, and the clerk
  pastes that whole address (or the code alone) back into batn. Google removed the old
  copy-the-code-from-a-Google-page flow (OOB) in 2022; this is what replaces it.

The OAuth client (a "Desktop app" client id, which Google says is not a secret for installed
applications) is data, not code: `--client FILE`, BATN_GOOGLE_OAUTH_CLIENT, `oauth-client.json` in
the user's batn folder, or `oauth_client.json` shipped beside this module by whoever packages batn
for a province. The clerk never opens a console.

Scopes, the least that works: `drive.file` (only the files batn itself created or was given: the
shared spreadsheet it creates, and sharing that file), plus `openid email` to know who signed in.
`--all-spreadsheets` adds `spreadsheets` (every spreadsheet the person can open) for a sheet made by
hand; it is not the default.

The sign-in (a refresh token, never printed) is stored in the user's configuration folder, in a file
readable by that user only (0600, in a 0700 folder): `google-dang-nhap.json`, an `authorized_user`
JSON as google-auth reads it, plus the account's e-mail.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from .quota import GoogleDoorError, Timeouts

ENV_CONFIG_DIR = "BATN_CONFIG_DIR"
ENV_OAUTH_CLIENT = "BATN_GOOGLE_OAUTH_CLIENT"
TOKEN_FILE = "google-dang-nhap.json"
CLIENT_FILE = "oauth-client.json"
SCOPE_DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
SCOPE_SHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_MAIL = "https://mail.google.com/"     # IMAP and SMTP of Gmail by XOAUTH2 (batn run's mailbox source)
PERSON_SCOPES = ("openid", "https://www.googleapis.com/auth/userinfo.email", SCOPE_DRIVE_FILE)
WAIT_FOR_CONSENT = 300          # seconds the loopback listener waits for the browser
DONE_PAGE = "batn: đã đăng nhập Google xong. Bạn có thể đóng cửa sổ này và quay lại batn."


class SignInError(GoogleDoorError):
    pass


# ------------------------------------------------------------------ where things are kept

def config_dir() -> Path:
    """The user's batn configuration folder (BATN_CONFIG_DIR overrides, for tests and portable installs)."""
    given = os.environ.get(ENV_CONFIG_DIR)
    if given:
        return Path(given).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "batn"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "batn"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "batn"


def token_path() -> Path:
    return config_dir() / TOKEN_FILE


def write_private(path: Path, text: str) -> None:
    """Write `text` so that only this user can read it: 0600 from creation, never a moment wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".dang-nhap-", dir=path.parent)   # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_token() -> dict | None:
    path = token_path()
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise SignInError(f"Tệp đăng nhập {path} bị hỏng: chạy lại “batn gsheets dang-nhap”.") from None
    if not isinstance(info, dict) or info.get("type") != "authorized_user" or not info.get("refresh_token"):
        raise SignInError(f"Tệp đăng nhập {path} không dùng được: chạy lại “batn gsheets dang-nhap”.")
    return info


def sign_out() -> Path | None:
    path = token_path()
    if path.exists():
        path.unlink()
        return path
    return None


def credentials_from_token(info: dict):
    from google.oauth2.credentials import Credentials

    return Credentials.from_authorized_user_info(info, scopes=info.get("scopes"))


def load_client(source: str | Path | None = None) -> dict:
    """The OAuth client ("installed" app) from `source`, BATN_GOOGLE_OAUTH_CLIENT, the user's folder, or
    the file packaged with batn."""
    candidates: list[tuple[str, str | Path]] = []
    if source:
        candidates.append(("--client", source))
    elif os.environ.get(ENV_OAUTH_CLIENT):
        candidates.append((ENV_OAUTH_CLIENT, os.environ[ENV_OAUTH_CLIENT]))
    else:
        candidates += [("", config_dir() / CLIENT_FILE), ("", Path(__file__).with_name("oauth_client.json"))]
    for where, c in candidates:
        text = str(c)
        if not text.lstrip().startswith("{"):
            path = Path(text).expanduser()
            if not path.is_file():
                if where:
                    raise SignInError(f"Không tìm thấy tệp mã ứng dụng OAuth {path} ({where}).")
                continue
            text = path.read_text(encoding="utf-8-sig")
        try:
            data = json.loads(text)
        except ValueError:
            raise SignInError(f"Tệp mã ứng dụng OAuth {c} không phải JSON hợp lệ.") from None
        app = data.get("installed") if isinstance(data, dict) else None
        if not isinstance(app, dict) or not app.get("client_id"):
            raise SignInError(f"Tệp mã ứng dụng OAuth {c} không phải loại “Ứng dụng máy tính” (Desktop app): "
                              "cần khóa \"installed\" với client_id.")
        app.setdefault("auth_uri", "https://accounts.google.com/o/oauth2/auth")
        app.setdefault("token_uri", "https://oauth2.googleapis.com/token")
        return {"installed": app}
    raise SignInError("Bản batn này chưa kèm mã ứng dụng OAuth của tỉnh (tệp oauth_client.json). Người quản trị "
                      "tạo một lần (Google Cloud, loại “Ứng dụng máy tính”) rồi gửi tệp cho văn thư: chạy "
                      f"“batn gsheets dang-nhap --client TỆP.json” hoặc chép tệp vào {config_dir() / CLIENT_FILE}. "
                      "Xem docs/google-sheets.md.")


# ------------------------------------------------------------------ the flow

@dataclass
class SignedIn:
    account: str
    path: Path
    scopes: list[str]


def _flow_class():
    from google_auth_oauthlib.flow import InstalledAppFlow

    class Flow(InstalledAppFlow):
        """InstalledAppFlow whose token request is bounded and, in tests, sent to the loopback stand-in;
        the consent address goes to `show` (which opens the browser) instead of being printed in English."""

        show: Callable[[str], None] = staticmethod(lambda url: None)
        timeouts: Timeouts = Timeouts()

        def authorization_url(self, **kwargs):
            url, state = super().authorization_url(**kwargs)
            self.show(url)
            return url, state

        def fetch_token(self, **kwargs):
            kwargs.setdefault("timeout", self.timeouts.pair())
            return super().fetch_token(**kwargs)

    return Flow


def _email_from(token: dict) -> str:
    """The e-mail in the ID token Google's token endpoint returned to us directly over TLS (OpenID
    Connect allows relying on TLS here instead of checking the signature)."""
    idt = token.get("id_token")
    if not isinstance(idt, str) or idt.count(".") != 2:
        return ""
    try:
        payload = idt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return ""
    return str(claims.get("email", "")) if isinstance(claims, dict) else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def code_from(pasted: str, state: str) -> str:
    """The authorization code from what the clerk pasted: the whole address, or the code alone."""
    text = pasted.strip()
    if "://" in text or text.startswith(("127.0.0.1", "localhost", "?")):
        query = parse_qs(urlsplit(text if "://" in text else "http://" + text.lstrip("?")).query)
        if "error" in query:
            raise SignInError("Google báo chưa cấp quyền (" + query["error"][0] + "): đăng nhập lại và bấm “Cho phép”.")
        if query.get("state", [state])[0] != state:
            raise SignInError("Địa chỉ vừa dán không thuộc lần đăng nhập này: chạy lại lệnh và dán đúng địa chỉ mới.")
        if "code" not in query:
            raise SignInError("Địa chỉ vừa dán không có mã (code=...): hãy chép toàn bộ địa chỉ trên thanh địa chỉ.")
        return query["code"][0]
    if not text:
        raise SignInError("Chưa dán địa chỉ hay mã nào.")
    return text


def sign_in(client: dict, *, all_spreadsheets: bool = False, mail: bool = False, browser: bool = True,
            show: Callable[[str], None] | None = None, ask: Callable[[str], str] | None = None,
            api_base: str | None = None, timeouts: Timeouts | None = None,
            wait: float = WAIT_FOR_CONSENT) -> SignedIn:
    """Run the flow and store the sign-in. `browser`: the loopback flow (the consent page opens here);
    else the copy-paste flow. `show(url)` presents the consent address (default: print it, and open
    the browser in the loopback flow). `api_base`: tests only, as everywhere in the door."""
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    from .auth import _mount, check_api_base

    scopes = list(PERSON_SCOPES) + ([SCOPE_SHEETS] if all_spreadsheets else []) + ([SCOPE_MAIL] if mail else [])
    flow = _flow_class().from_client_config(client, scopes=scopes)
    flow.timeouts = timeouts or Timeouts()
    api_base = api_base or os.environ.get("BATN_SHEETS_API_BASE") or None
    if api_base:
        _mount(flow.oauth2session, check_api_base(api_base))
    flow.show = show or (_open_and_print if browser else _print_address)  # type: ignore[assignment]
    try:
        if browser:
            flow.run_local_server(host="127.0.0.1", port=0, open_browser=False, authorization_prompt_message=None,
                                  success_message=DONE_PAGE, timeout_seconds=wait, prompt="consent")
        else:
            flow.redirect_uri = f"http://127.0.0.1:{_free_port()}/"
            _url, state = flow.authorization_url(prompt="consent")
            pasted = (ask or input)("Dán địa chỉ trình duyệt chuyển tới (hoặc mã) vào đây: ")
            flow.fetch_token(code=code_from(pasted, state))
    except SignInError:
        raise
    except OAuth2Error as e:
        raise SignInError(f"Google không cấp quyền đăng nhập ({e.error}): mã đã dùng rồi, hết hạn hoặc không "
                          "đúng lần đăng nhập này. Chạy lại “batn gsheets dang-nhap”.") from None
    except Exception as e:  # the library's own timeout and transport errors, in the clerk's words
        name = type(e).__name__
        if name == "WSGITimeoutError":
            raise SignInError(f"Đã chờ {wait:.0f} giây mà trình duyệt chưa quay lại batn: chạy lại lệnh; máy không "
                              "có trình duyệt thì thêm --khong-trinh-duyet.") from None
        import requests
        if isinstance(e, (requests.ConnectionError, requests.Timeout)):
            raise SignInError("Không kết nối được tới Google để đăng nhập (hoặc Google không trả lời kịp); kiểm tra "
                              "mạng rồi chạy lại.") from None
        raise
    token = flow.oauth2session.token
    if not token.get("refresh_token"):
        raise SignInError("Google không trả về mã làm mới (refresh token): gỡ quyền của ứng dụng tại "
                          "https://myaccount.google.com/permissions rồi đăng nhập lại.")
    creds = flow.credentials
    granted = list(token.get("scope") or scopes)
    if isinstance(token.get("scope"), str):
        granted = token["scope"].split()
    if SCOPE_DRIVE_FILE not in granted:
        raise SignInError("Chưa cấp quyền “xem, sửa, tạo các tệp Google Drive mà ứng dụng này dùng”: đăng nhập lại "
                          "và đánh dấu ô quyền đó.")
    info = json.loads(creds.to_json(strip=["token", "expiry"]))
    info.update(type="authorized_user", account=_email_from(token), scopes=granted,
                signed_in=datetime.now().isoformat(timespec="seconds"))
    path = token_path()
    write_private(path, json.dumps(info, ensure_ascii=False, indent=1))
    return SignedIn(info["account"], path, granted)


def _print_address(url: str) -> None:
    print("Mở địa chỉ sau bằng trình duyệt (trên máy này hay điện thoại, máy khác đều được), đăng nhập tài khoản "
          "Google và bấm “Cho phép”:\n\n" + url + "\n\nSau đó trình duyệt chuyển tới một địa chỉ bắt đầu bằng "
          "http://127.0.0.1 và báo không mở được trang: đó là bình thường. Chép toàn bộ địa chỉ đó.")


def _open_and_print(url: str) -> None:
    import webbrowser

    print("Đang mở trình duyệt để đăng nhập Google. Nếu trình duyệt không tự mở, hãy mở địa chỉ sau:\n\n" + url + "\n")
    try:
        webbrowser.open(url, new=1, autoraise=True)
    except Exception:
        pass


def mail_access_token() -> str:
    """A fresh access token of the stored sign-in for Gmail's IMAP (XOAUTH2); SignInError when there
    is no sign-in or it was made without the mail permission (`batn gsheets dang-nhap --hop-thu`)."""
    from google.auth.transport.requests import Request

    info = load_token()
    if info is None:
        raise SignInError("chưa đăng nhập Google: chạy batn gsheets dang-nhap --hop-thu")
    if SCOPE_MAIL not in (info.get("scopes") or []):
        raise SignInError("lần đăng nhập Google chưa có quyền đọc thư: chạy lại batn gsheets dang-nhap --hop-thu")
    creds = credentials_from_token(info)
    creds.refresh(Request())
    return creds.token
