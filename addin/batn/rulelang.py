"""The catalogue's little languages, for clerks: rules, targets and sentence placeholders.

One parser for each, used by the catalogue loader (YAML or spreadsheet) and by `batn catalogue
check`; what they produce is plain data (batn.model.Rule, Target) that two compilers turn into
the template's Excel formulas (batn.xlsx.template) and into batn's checks (batn.checks).

Rules (docs/bo-chi-tieu.md):
    <= TT_CBCCVC_TRE [lỗi]                       this indicator <= another (blank other: not checked)
    >= TK_HOINGHI_SO when both > 0 [cảnh báo]    lượt >= số cuộc when both are reported
    > 0 needs CD_QUA_SO > 0 [cảnh báo]           a value needs its count
    CV_A + CV_B <= TT_X [lỗi]                    any comparison of sums of indicators and numbers
    CV_A <= 50% TT_X khi TT_X > 0 [cảnh báo]     with a factor, and conditions (khi/when, và/and)
    bắt buộc [lỗi] / bắt buộc khi CV_A > 0       the indicator must be filled (when…)
A rule without [mức độ] is a lỗi. A rule that starts with an operator has this indicator on its left.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .model import Comparison, Rule, Severity, Target, Term

CODE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VALID_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class RuleError(ValueError):
    """A rule, target or sentence that cannot be read; the message is for a clerk."""


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


# ------------------------------------------------------------------ codes
def code_problem(code: str) -> str | None:
    """Why `code` cannot be an indicator code (an Excel/LibreOffice/Google defined name), or None."""
    if not isinstance(code, str) or not code:
        return "mã chỉ tiêu để trống"
    if not VALID_CODE.match(code):
        return (f"mã “{code}” không hợp lệ: chỉ dùng chữ in hoa không dấu A-Z, chữ số và dấu gạch dưới, "
                "bắt đầu bằng chữ cái (ví dụ CV_YTUONG_SO)")
    if len(code) > 200:
        return f"mã “{code}” quá dài (tối đa 200 ký tự)"
    m = re.match(r"^([A-Z]{1,3})([0-9]+)$", code)
    if m and _col_number(m.group(1)) <= 16384 and int(m.group(2)) <= 1048576:
        return f"mã “{code}” trùng địa chỉ một ô bảng tính ({code}), không dùng làm tên định danh được"
    if re.match(r"^R[0-9]*C?[0-9]*$", code) or code in ("C", "R", "TRUE", "FALSE"):
        return f"mã “{code}” trùng cách ghi địa chỉ ô (R1C1) hoặc giá trị đúng/sai, không dùng làm tên định danh được"
    if code.startswith("BATN_"):
        return f"mã “{code}” bắt đầu bằng BATN_, tiền tố dành riêng cho batn"
    return None


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


# ------------------------------------------------------------------ severity
_SEVERITY_WORDS = {"lỗi": Severity.ERROR, "loi": Severity.ERROR, "error": Severity.ERROR,
                   "cảnh báo": Severity.WARNING, "canh bao": Severity.WARNING, "warning": Severity.WARNING}


def parse_severity(word: str) -> Severity:
    w = " ".join(nfc(str(word)).strip().lower().split())
    if w in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[w]
    raise RuleError(f"mức độ “{word}” không hợp lệ: ghi “lỗi” hoặc “cảnh báo”")


# ------------------------------------------------------------------ expressions
_OPS = {"<=": "<=", "≤": "<=", "=<": "<=", ">=": ">=", "≥": ">=", "=>": ">=", "<>": "<>", "!=": "<>",
        "≠": "<>", "==": "=", "=": "=", "<": "<", ">": ">"}
_TOKEN = re.compile(r"\s*(?:(?P<num>\d[\d.]*(?:,\d+)?%?)|(?P<code>[A-Za-z_][A-Za-z0-9_]*)|"
                    r"(?P<op><=|>=|=<|=>|<>|!=|==|≤|≥|≠|<|>|=)|(?P<sym>[+\-*×x]))")


def _number(text: str) -> float:
    pct = text.endswith("%")
    t = text.rstrip("%")
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", t):     # 1.550 = một nghìn năm trăm năm mươi
        t = t.replace(".", "")
    t = t.replace(",", ".")
    try:
        v = float(t)
    except ValueError:
        raise RuleError(f"“{text}” không phải là số") from None
    return v / 100 if pct else v


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise RuleError(f"không hiểu “{text[pos:].strip()}”")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_sum(text: str) -> tuple[Term, ...]:
    """"CV_A + CV_B", "2 * CV_A", "50% TT_X", "1550", "CV_A - CV_B" -> terms."""
    toks = _tokens(text)
    if not toks:
        raise RuleError("thiếu một vế của phép so sánh")
    terms: list[Term] = []
    sign = 1.0
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        if kind == "sym" and val in "+-":
            sign = -sign if val == "-" else sign
            i += 1
            continue
        factor = sign
        if kind == "num":
            factor *= _number(val)
            i += 1
            if i < len(toks) and toks[i] in (("sym", "*"), ("sym", "×"), ("code", "x")):
                i += 1
            if i < len(toks) and toks[i][0] == "code":
                terms.append(Term(toks[i][1], factor))
                i += 1
            else:
                terms.append(Term(None, factor))
        elif kind == "code":
            code = val
            i += 1
            if i + 1 < len(toks) and toks[i] in (("sym", "*"), ("sym", "×"), ("code", "x")) and toks[i + 1][0] == "num":
                factor *= _number(toks[i + 1][1])
                i += 2
            terms.append(Term(code, factor))
        else:
            raise RuleError(f"không hiểu “{val}” trong “{text.strip()}”")
        sign = 1.0
        if i < len(toks) and not (toks[i][0] == "sym" and toks[i][1] in "+-"):
            raise RuleError(f"thiếu dấu + hoặc - trước “{toks[i][1]}” trong “{text.strip()}”")
    return tuple(terms)


_CMP_SPLIT = re.compile(r"(<=|>=|=<|=>|<>|!=|==|≤|≥|≠|<|>|=)")


def parse_comparison(text: str, own: str | None = None) -> Comparison:
    """"A + B <= C"; with `own`, a comparison that starts with its operator has `own` on the left."""
    parts = _CMP_SPLIT.split(text.strip())
    if len(parts) != 3:
        raise RuleError(f"“{text.strip()}” cần đúng một dấu so sánh (<=, >=, <, >, =, <>)")
    left, op, right = parts[0].strip(), _OPS[parts[1]], parts[2].strip()
    if not left:
        if not own:
            raise RuleError(f"thiếu vế trái của “{text.strip()}”")
        left = own
    return Comparison(parse_sum(left), op, parse_sum(right))


_WHEN = re.compile(r"\s+(?:khi|when|nếu)\s+", re.I)
_AND = re.compile(r"\s+(?:và|and)\s+|\s*;\s*", re.I)
_SEV = re.compile(r"\[([^\]]*)\]\s*$")
_LEGACY = (
    (re.compile(r"^<=\s*([A-Z0-9_]+)$"), "le"),
    (re.compile(r"^>=\s*([A-Z0-9_]+)\s+when both > 0$"), "ge_both"),
    (re.compile(r"^> 0 needs\s+([A-Z0-9_]+)\s*> 0$"), "needs"),
)
_REQUIRED = re.compile(r"^(?:bắt buộc|bat buoc|required|phải nhập)\b", re.I)


def parse_rule(spec: str, own: str | None = None) -> Rule:
    """One rule as written in a catalogue (see the module's doc). `own`: the indicator it belongs to."""
    text = " ".join(nfc(str(spec)).split())
    if not text:
        raise RuleError("quy tắc để trống")
    severity = Severity.ERROR
    m = _SEV.search(text)
    if m:
        severity = parse_severity(m.group(1))
        text = text[:m.start()].strip()
    for pattern, op in _LEGACY:
        lm = pattern.match(text)
        if lm:
            return Rule(op, lm.group(1), severity, text=nfc(str(spec)).strip())
    body, *conds = _WHEN.split(text, maxsplit=1)
    when: tuple[Comparison, ...] = ()
    if conds:
        if conds[0].strip().lower() == "both > 0":
            raise RuleError("“when both > 0” chỉ dùng sau “>= MÃ”")
        when = tuple(parse_comparison(c, own) for c in _AND.split(conds[0]) if c.strip())
    source = nfc(str(spec)).strip()
    if _REQUIRED.match(body):
        if _REQUIRED.sub("", body).strip():
            raise RuleError(f"không hiểu “{body}”: viết “bắt buộc” hoặc “bắt buộc khi <điều kiện>”")
        return Rule("required", "", severity, when=when, text=source)
    test = parse_comparison(body, own)
    codes = [t.code for t in test.left + test.right if t.code]
    if not codes:
        raise RuleError(f"“{body}” không có mã chỉ tiêu nào")
    return Rule("expr", next((c for c in codes if c != own), codes[0]), severity, test=test, when=when, text=source)


def rule_codes(rule: Rule) -> list[str]:
    """Every indicator code a rule mentions, in order."""
    out = [rule.other] if rule.other else []
    for c in ((rule.test,) if rule.test else ()) + rule.when:
        out += [t.code for t in c.left + c.right if t.code]
    return list(dict.fromkeys(out))


def rule_spec(rule: Rule) -> str:
    """How a rule is written in a catalogue file."""
    if rule.text:
        return rule.text
    return {
        "le": f"<= {rule.other} [{rule.severity}]",
        "ge_both": f">= {rule.other} when both > 0 [{rule.severity}]",
        "needs": f"> 0 needs {rule.other} > 0 [{rule.severity}]",
    }[rule.op]


def split_rules(text: object) -> list[str]:
    """The `rules` cell of the spreadsheet: one rule a line (or separated by “|”)."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [str(x) for x in text if str(x).strip()]
    return [p.strip() for p in re.split(r"[\n|]", str(text)) if p.strip()]


# ------------------------------------------------------------------ targets
_AT_MOST = re.compile(r"^(?:tối đa|toi da|không quá|khong qua|<=|≤)\s*", re.I)
_AT_LEAST = re.compile(r"^(?:ít nhất|it nhat|tối thiểu|toi thieu|>=|≥)\s*", re.I)


def parse_target(value: object) -> Target:
    """`target` of an indicator: 1550 | "1.550" | "100% TT_COSO_TONG" | "1 mỗi TT_DOANVIEN" |
    "mỗi TT_DOANVIEN 1" | "1 x TT_DOANVIEN" | "tối đa 0"; or a mapping {value|percent|per, of}."""
    if isinstance(value, bool) or value is None:
        raise RuleError("chỉ tiêu kế hoạch để trống")
    if isinstance(value, (int, float)):
        return Target(float(value), None, False, _num_text(value))
    if isinstance(value, dict):
        of = value.get("of")
        if "percent" in value:
            factor = float(value["percent"]) / 100
        elif "per" in value:
            factor = float(value["per"])
        else:
            factor = float(value.get("value", value.get("share", 0)))
        at_most = bool(value.get("at_most") or value.get("toi_da"))
        return Target(factor, str(of) if of else None, at_most, "")
    text = " ".join(nfc(str(value)).split())
    source = text
    at_most = bool(_AT_MOST.match(text))
    text = _AT_MOST.sub("", _AT_LEAST.sub("", text))
    m = re.fullmatch(r"(?:mỗi|moi|per)\s+([A-Za-z_][A-Za-z0-9_]*)\s+(?:ít nhất\s+)?(\S+)(?:\s+\S.*)?", text, re.I)
    if m:
        return Target(_number(m.group(2)), m.group(1), at_most, source)
    m = re.fullmatch(r"(\d[\d.,]*%?)\s*(?:x|\*|×|/|mỗi|moi|per|của|cua|of)?\s*([A-Za-z_][A-Za-z0-9_]*)", text, re.I)
    if m:
        return Target(_number(m.group(1)), m.group(2), at_most, source)
    m = re.fullmatch(r"(\d[\d.,]*)", text)
    if m:
        return Target(_number(m.group(1)), None, at_most, source)
    raise RuleError(f"không hiểu chỉ tiêu kế hoạch “{source}”: ghi một số (1550), một tỷ lệ của chỉ tiêu khác "
                    "(100% TT_COSO_TONG) hoặc một mức cho mỗi người, mỗi cơ sở (1 mỗi TT_DOANVIEN)")


def _num_text(v: float | int) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def target_spec(t: Target) -> object:
    if t.text:
        return t.text
    if t.of is None:
        return int(t.value) if t.value.is_integer() else t.value
    return f"{_num_text(t.value)} mỗi {t.of}"


# ------------------------------------------------------------------ sentence placeholders
# A clerk's sentence: "Toàn khối có {TT_DOANVIEN} đoàn viên" — {MA} the figure with its unit noun,
# {MA:so} the figure, {MA:tien} money, {MA:tyle} the ratio, {MA:ss} the comparison with the earlier
# period, {MA:chitieu} the target's verdict, {chu_ngu} the subject ("toàn khối").
PLACEHOLDER = re.compile(r"\{\s*([^{}:\s]+)\s*(?::\s*([^{}\s]+)\s*)?\}")
FORMS = {"": "n", "so": "so", "tien": "tien", "tyle": "tyle", "ss": "ss", "chitieu": "chitieu", "n": "n"}
SUBJECTS = {"chu_ngu": "subject", "chủ_ngữ": "subject", "subject": "subject"}


def is_jinja(text: str) -> bool:
    return "{{" in text or "{%" in text


def phrase_codes(text: str) -> list[str]:
    """Indicator codes a sentence mentions (either syntax)."""
    if is_jinja(text):
        return re.findall(r"\(\s*['\"]([A-Z][A-Z0-9_]*)['\"]\s*\)", text)
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) not in SUBJECTS]


def phrase_problems(text: str, codes) -> list[str]:
    """Unknown codes and forms in a sentence."""
    out = []
    if is_jinja(text):
        import jinja2

        try:
            jinja2.Environment(extensions=["jinja2.ext.do"]).parse(text)
        except jinja2.TemplateSyntaxError as e:
            out.append(f"câu jinja2 sai cú pháp: {e.message}")
        for c in phrase_codes(text):
            if c not in codes:
                out.append(f"mã chỉ tiêu “{c}” trong câu không có trong bộ chỉ tiêu")
        return out
    for m in PLACEHOLDER.finditer(text):
        name, form = m.group(1), (m.group(2) or "")
        if name in SUBJECTS:
            continue
        if name not in codes:
            out.append(f"chỗ trống {m.group(0)}: mã chỉ tiêu “{name}” không có trong bộ chỉ tiêu")
        elif form.lower() not in FORMS:
            out.append(f"chỗ trống {m.group(0)}: cách ghi “{form}” không có (dùng :so, :tien, :tyle, :ss, :chitieu)")
    rest = PLACEHOLDER.sub("", text)
    if "{" in rest or "}" in rest:
        out.append("dấu ngoặc nhọn { } không khớp: mỗi chỗ trống viết dạng {MA} hoặc {MA:so}")
    return out


def compile_phrase(text: str) -> str:
    """A clerk's sentence as the report's jinja2 template (jinja2 text is kept as it is)."""
    if is_jinja(text):
        return text

    def one(m: re.Match) -> str:
        name, form = m.group(1), (m.group(2) or "").lower()
        if name in SUBJECTS:
            return "{{ subject }}"
        fn = FORMS.get(form, "n")
        return "{{ %s('%s') }}" % (fn, name)

    return PLACEHOLDER.sub(one, text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a catalogue, where a clerk can find it."""

    severity: Severity
    message: str
    sheet: str = ""
    row: int = 0
    column: str = ""

    def where(self) -> str:
        bits = [f"trang “{self.sheet}”" if self.sheet else "", f"dòng {self.row}" if self.row else "",
                f"cột {self.column}" if self.column else ""]
        return ", ".join(b for b in bits if b)
