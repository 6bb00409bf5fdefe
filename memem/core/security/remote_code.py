"""Remote code execution: commands that fetch remote code and run it (``curl … | sh``,
``bash <(curl …)``, ``iex (iwr …)``, base64 piped to a shell, download then run, LOLBins),
also described in words ("pipe https://x/i.sh into bash")."""

from __future__ import annotations

from typing import Final

from memem.core.security.rules import REMOTE_CODE, both, contains, threat

_SHELL: Final = r"(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|k|da|c|tc|fi|a)?sh|python[0-9.]*|perl|ruby|node|php|pwsh|powershell|source"
_FETCH: Final = (
    r"(?:curl|wget|fetch|http|https|iwr|irm|invoke-webrequest|invoke-restmethod|lwp-request"
    r"|aria2c|httpie|xh)"
)


FETCH_WORDS: Final = (
    "curl",
    "wget",
    "fetch",
    "http",
    "iwr",
    "irm",
    "invoke-webrequest",
    "invoke-restmethod",
    "lwp-request",
    "aria2c",
    "httpie",
    "xh",
)


def _substitution_gate(t: str, f: str) -> bool:
    """The gate of the process-substitution threat below: `<(`, iex, eval/exec, or a command
    substitution (`$(` or a backtick) together with a fetch word or base64. A backtick alone
    is in most coding notes (inline code), so it is not enough."""
    if "<(" in f or "iex" in f or "invoke-expression" in f or "exec" in f or "eval" in f:
        return True
    return ("$(" in f or "`" in f) and ("base64" in f or any(map(f.__contains__, FETCH_WORDS)))


# Earlier threats are reported first where two match at the same place.
THREATS: Final = (
    # (b) commands that fetch remote code and run it
    threat(
        REMOTE_CODE,
        contains("|", folded=True),
        # curl ... | sh, wget -O- ... | sudo bash, iwr ... | iex
        rf"\b{_FETCH}\b[ \t]+[^\s|][^\n|]{{0,300}}\|\s*(?:{_SHELL}|iex|invoke-expression)\b",
        # echo ... | base64 -d | sh
        r"\bbase64\s+(?:-\w+\s+)*(?:-d|--decode|-D)\b[^\n|]{0,100}\|\s*"
        rf"(?:{_SHELL}|iex|invoke-expression)\b",
        r"\b(?:frombase64string|b64decode|atob)\b[^\n]{0,200}\|\s*(?:iex|invoke-expression|"
        rf"{_SHELL})\b",
    ),
    threat(
        REMOTE_CODE,
        _substitution_gate,
        # bash <(curl ...), source <(wget ...)
        rf"(?:\b{_SHELL}|(?:^|[\s;&|(])\.)\s+(?:-\S+\s+)*<\(\s*(?:sudo\s+)?{_FETCH}\b",
        # sh -c "$(curl ...)", python -c "$(wget ...)", eval "$(curl ...)", eval `curl ...`
        rf"\b(?:{_SHELL}|eval|exec)\s+(?:-\S+\s+)*[\"']?(?:\$\(|`)\s*(?:sudo\s+)?{_FETCH}\b",
        rf"\b(?:{_SHELL}|eval|exec)\s+(?:-\S+\s+)*[\"']?(?:\$\(|`)[^\n)`]{{0,100}}base64\s+"
        r"(?:-\w+\s+)*(?:-d|--decode|-D)\b",
        # iex (iwr ...), Invoke-Expression (New-Object Net.WebClient).DownloadString(...)
        r"\b(?:iex|invoke-expression)\b[\s(&\"'.]{1,10}[^\n]{0,60}?(?:iwr|irm|invoke-webrequest"
        r"|invoke-restmethod|net\.webclient|downloadstring|downloadfile|curl|wget)\b",
        # exec(urllib.request.urlopen(...).read()), eval(requests.get(...).text)
        r"\b(?:exec|eval)\s*\(\s*(?:[\w.]{0,40}\.)?(?:urlopen|get|urlretrieve|fetch|request)\s*\(",
    ),
    threat(
        REMOTE_CODE,
        contains("pipe", "and", "hand", "give", "feed", "pass", folded=True),
        r"\b(?:hand|give|feed|pass)\s+(?:it|them|that|this|the\s+\w+)\s+(?:straight\s+|directly\s+)?"
        r"(?:in)?to\s+(?:the\s+|a\s+)?(?:shell|bash|sh|zsh|interpreter|powershell|python)\b",
        # "pipe https://x/i.sh into bash", "fetch the script at X and run it"
        rf"\bpipe\s+(?:(?:it|the\s+(?:output|script|result))\s+of\s+)?(?:[^\s]{{1,200}}\s+)"
        rf"{{0,4}}?(?:in)?to\s+(?:a\s+|the\s+)?(?:{_SHELL}|shell|iex)\b",
        r"\b(?:fetch|download|grab|get|curl|wget|pull)\s+(?:\S{1,60}\s+){0,4}?[\"'`(]?(?:https?|ftp)://"
        r"\S{1,200}\s+(?:\S{1,60}\s+){0,3}?and\s+(?:then\s+)?"
        rf"(?:run|execute|exec|source|eval|pipe)\s+(?:it|that|the\s+(?:script|file|result)|them"
        rf"|(?:it\s+)?(?:in)?to\s+{_SHELL})\b",
    ),
    threat(
        REMOTE_CODE,
        contains("curl", "wget", "iwr", "invoke-webrequest", folded=True),
        # curl -o /tmp/x.sh URL && bash /tmp/x.sh; wget URL; chmod +x x && ./x
        rf"\b(?:curl|wget|iwr|invoke-webrequest)\b[^\n;&|]{{0,300}}(?:&&|;|\|\|)\s*(?:sudo\s+)?"
        rf"(?:(?:{_SHELL})\s+\S|chmod\s+(?:\+|[0-7]{{3}})x?\S*\s+\S+\s*(?:&&|;)\s*(?:sudo\s+)?"
        r"(?:\./|/|~/)|\./)",
    ),
)
# Windows download tools and commands spelled in escapes, after the other classes' rules.
LATER_THREATS: Final = (
    threat(
        REMOTE_CODE,
        contains("certutil", "bitsadmin", "mshta", "regsvr32", folded=True),
        r"\bcertutil(?:\.exe)?\b[^\n]{0,60}?[-/]urlcache\b[^\n]{0,200}?(?:https?|ftp)://",
        r"\bbitsadmin(?:\.exe)?\s+/transfer\b[^\n]{0,200}?(?:https?|ftp)://",
        r"\bmshta(?:\.exe)?\s+[\"']?(?:https?|vbscript|javascript):",
        r"\bregsvr32\b[^\n]{0,60}?/i:\s*[\"']?https?://",
    ),
    threat(
        REMOTE_CODE,
        both(contains("\\"), contains("printf", "echo", "$'", folded=True)),
        # printf '\x63\x75\x72\x6c ...' | sh: a command spelled in escapes and run.
        r"\b(?:printf|echo\s+-n?en?)\s+[\"']?(?:\\x[0-9a-f]{2}|\\[0-7]{3}|\\u[0-9a-f]{4}){4,}"
        rf"[^\n|]{{0,300}}\|\s*(?:sudo\s+)?(?:{_SHELL}|iex)\b",
        r"\b(?:bash|sh|zsh|eval)\s+(?:-c\s+)?\$'(?:\\x[0-9a-f]{2}|\\[0-7]{3}){4,}",
    ),
)
