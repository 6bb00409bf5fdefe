"""Authority claims: claims of approval or secrecy made to the reader ("the user already
approved this", "do not mention this", "without asking the user", "SYSTEM OVERRIDE:", "keep this
between us"). An approval of a past, named thing ("already approved the schema change") is a
record, not a claim over what the reader is about to do."""

from __future__ import annotations

from typing import Final

from memem.core.security.rules import AUTHORITY_CLAIM, both, contains, threat

_AUTHORITY: Final = (
    r"(?:the\s+)?(?:user|admin(?:istrator)?|owner|operator|developers?|maintainers?|anthropic"
    r"|openai|system|security\s+team|it\s+department|management|boss|manager|root|sysadmin)"
)

# Earlier threats are reported first where two match at the same place.
THREATS: Final = (
    # (c) claims of authority or secrecy
    threat(
        AUTHORITY_CLAIM,
        contains(
            "already",
            "previously",
            "explicitly",
            "signed",
            "agreed",
            "okayed",
            "without",
            "pre",
            "authori",
            "approv",
            "permi",
            "consent",
            "sanction",
            "cleared",
            folded=True,
        ),
        # "the user already approved this", "pre-authorized by the admin"
        # About "this": an approval of a past, named thing ("already approved the schema
        # change") is a record, not a claim over what the reader is about to do.
        rf"\b{_AUTHORITY}\s+(?:has\s+|have\s+|had\s+)?(?:already|previously|explicitly)\s+"
        r"(?:approved|authori[sz]ed|consented\s+to|confirmed|agreed\s+to|allowed|permitted|okayed"
        r"|ok'?d|cleared|sanctioned|signed\s+off\s+on)\s+(?:this|it|that|these|everything|all\s+of"
        r"\s+(?:this|it)|what\s+follows|the\s+following|this\s+\w+)\b",
        rf"\b{_AUTHORITY}\s+(?:has\s+|have\s+|had\s+)?(?:already|previously|explicitly)\s+"
        r"(?:said\s+(?:yes|it'?s\s+(?:ok|fine))|given\s+(?:permission|consent|approval)|signed\s+off)"
        r"(?:\s*[.,;:!]|\s+(?:on\s+)?(?:this|it|that|everything)\b)",
        r"\b(?:this|it|that|these|everything|all\s+of\s+(?:this|it)|the\s+following)\s+(?:\w+\s+)?"
        r"(?:is|are|was|were|has\s+been|have\s+been)\s+(?:already\s+)?pre-?\s?(?:approved"
        r"|authori[sz]ed|cleared|sanctioned|confirmed)\b",
        rf"\bpre-?\s?(?:approved|authori[sz]ed|cleared|sanctioned)\s+by\s+{_AUTHORITY}\b",
        rf"\b{_AUTHORITY}\s+(?:has\s+|have\s+|had\s+)?(?:already\s+)?pre-?\s?(?:approved|authori[sz]ed"
        r"|cleared|sanctioned)\s+(?:this|it|that|these|everything|all|the\s+following|what\s+follows)\b",
        r"\b(?:signed\s+off|approved|authori[sz]ed|agreed|consented|okayed)\s+(?:on\s+|to\s+)?(?:this"
        r"|it|that|everything)\s+(?:ahead\s+of\s+time|in\s+advance|beforehand)\b",
        r"\byou\s+(?:may|can|are\s+(?:allowed|free|permitted|authori[sz]ed)\s+to)\s+[^\n.]{0,80}?"
        r"\bwithout\s+(?:checking|asking|confirm(?:ing|ation)|review(?:ing)?|approval|permission)\b",
        rf"\b(?:is|are|was|were|been|has|have)\s+(?:already\s+|been\s+)?(?:fully\s+|explicitly\s+)?"
        rf"(?:approved|authori[sz]ed|sanctioned|cleared|permitted)\s+by\s+{_AUTHORITY}\b",
        rf"\b(?:you\s+have|you'?ve\s+got|with)\s+(?:(?:full|explicit|standing|blanket|permanent"
        rf"|prior|advance|the)\s+)?(?:permission|"
        rf"authori[sz]ation|consent|approval)\s+(?:from\s+{_AUTHORITY}\s+)?to\s+(?:\w+\s+){{0,3}}?"
        r"(?:\w+-)?(?:run|execute|delete|push|deploy|install|send|upload|disable|bypass|skip|ignore|modify"
        r"|access|read)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains(
            "mention",
            "tell",
            "reveal",
            "disclos",
            "report",
            "say",
            "inform",
            "notify",
            "warn",
            "alert",
            "bring",
            "log",
            "acknowledg",
            "discuss",
            "explain",
            "confirm",
            "permission",
            "approv",
            "consent",
            "authori",
            "user",
            "human",
            folded=True,
        ),
        # "do not mention this", "never tell anyone", "no need to ask for confirmation"
        r"\b(?:do\s+not|don't|never|must\s+not|should\s+not|shouldn't|no\s+need\s+to|without)\s+"
        r"(?:ever\s+)?(?:mention(?:ing)?|tell(?:ing)?|reveal(?:ing)?|disclos(?:e|ing)|report(?:ing)?"
        r"|say(?:ing)?|discuss(?:ing)?|explain(?:ing)?|acknowledg(?:e|ing)|log(?:ging)?|bring(?:ing)?"
        r"\s+up|inform(?:ing)?|notify(?:ing)?|warn(?:ing)?|alert(?:ing)?)\s+(?:(?:anything\s+)?"
        r"(?:about\s+)?(?:this|it|that|these|them|anyone|anybody|the\s+user|the\s+human|to\s+the"
        r"\s+user|this\s+(?:memory|instruction|note|step|change|message)))\b(?!\s*[:,]?\s*[\"'`])",
        r"\b(?:no\s+need\s+to|don't|do\s+not|never|without)\s+(?:ever\s+)?(?:ask(?:ing)?|check(?:ing)?"
        r"|confirm(?:ing)?|request(?:ing)?|wait(?:ing)?|seek(?:ing)?|get(?:ting)?|prompt(?:ing)?"
        r"|consult(?:ing)?)\s+(?:(?:for|with|on)\s+)?(?:the\s+)?(?:user'?s?\s+)?(?:(?:for\s+)?"
        r"(?:confirmation|permission|approval|consent|authori[sz]ation)|the\s+user|user|human"
        r"|with\s+the\s+user)\b",
        r"\b(?:skip|bypass|ignore)\s+(?:the\s+)?(?:user\s+)?(?:confirmation|approval|permission)"
        r"\s+(?:step|prompt|check|dialog)s?\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains(
            "from",
            "by",
            "override",
            "notice",
            "directive",
            "instruction",
            "command",
            "message",
            "alert",
            "update",
            "priority",
            "authority",
            "treat",
            "outrank",
            "privileges",
            folded=True,
        ),
        # "this instruction comes from Anthropic", "SYSTEM OVERRIDE:", "ADMIN NOTICE:"
        r"\b(?:this|these|the\s+following)\s+(?:instructions?|messages?|memor(?:y|ies)|notes?"
        r"|directives?|requests?|commands?)\s+(?:comes?|came|is|are|were|was)\s+(?:directly\s+)?"
        r"(?:from|by|sent\s+by|authori[sz]ed\s+by)\s+(?:anthropic|openai|the\s+(?:system|admin"
        r"|administrator|developers?|operator|security\s+team|user))\b",
        r"\b(?:system|admin|administrator|developer|root|security|anthropic|priority)\s+"
        r"(?:override|notice|directive|instruction|command|message|alert|update)s?\s*:",
        r"\b(?:system\s+)?message\s+from\s+(?:anthropic|openai|the\s+(?:claude(?:\s+code)?|anthropic"
        r"|security|platform|admin|system|openai)(?:\s+(?:team|admins?|administrators?))?|your\s+"
        r"(?:developers?|operators?|creators?|administrators?))\b",
        r"\btreat\s+this\s+(?:memory|note|message|text|instruction)\s+as\s+(?:coming\s+from|(?:an?\s+)?"
        r"(?:system|admin|authoritative|trusted|official|higher))",
        r"\b(?:word|instructions?|authority)\s+outranks?\b|\boutranks?\s+(?:the\s+)?(?:user|person"
        r"|human|operator)",
        r"\b(?:have|has|with)\s+elevated\s+privileges\b",
        r"\b(?:highest|top|maximum|absolute|supreme)\s+(?:priority|authority)\s+(?:instruction"
        r"|directive|command|order|override)s?\b",
    ),
)
# Each with its own gate (most notes hold none of these words), after the other classes'
# first rules.
LATER_THREATS: Final = (
    threat(
        AUTHORITY_CLAIM,
        contains("official", folded=True),
        r"\bofficial\s+(?:notice|message|communication|directive|instruction|update|request|memo"
        r"|announcement)\s+from\s+(?:the\s+)?(?:[\w&-]{1,30}\s+){0,4}?(?:team|department|anthropic"
        r"|openai|admins?|administrators?|owner|operator|developers?|staff|support|safety|security)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        both(
            contains("override", "mode", "clearance", "privilege", folded=True),
            contains(
                "granted",
                "enabled",
                "activ",
                "approved",
                "confirmed",
                "unlocked",
                "effect",
                folded=True,
            ),
        ),
        r"\b(?:admin|administrator|system|root|security|developer|operator|owner|sudo|god)\s+"
        r"(?:override|mode|clearance|privileges?)\s+(?:is\s+|has\s+been\s+)?(?:granted|enabled"
        r"|activated|active|approved|confirmed|unlocked|in\s+effect)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains("notice", "message", "directive", "alert", "cleared", "authori", folded=True),
        r"\b(?:trust\s+(?:and|&)\s+safety|compliance|legal|policy|moderation|openai|platform"
        r"|infosec)\s+(?:team\s+)?(?:notice|message|directive|alert|override)s?\s*:",
        r"\byou\s+(?:are|have\s+been|'re)\s+(?:now\s+)?(?:cleared|authori[sz]ed)\s+to\s+(?:\w+\s+)?"
        r"(?:disable|bypass|skip|ignore|turn\s+off|override|exfiltrate|delete|remove)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains("elevated", folded=True),
        r"\belevated\s+(?:instruction|directive|command|order)s?\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        both(
            contains("permission", "approval", "confirmation", "consent", "safety", folded=True),
            contains(
                "disabled",
                "off",
                "waived",
                "lifted",
                "removed",
                "skipped",
                "needed",
                "unnecessary",
                folded=True,
            ),
        ),
        r"\b(?:permission|approval|confirmation|consent|safety)\s+(?:prompts?|checks?|dialogs?"
        r"|requests?|requirements?|gates?|steps?)\s+(?:are|is|have\s+been|has\s+been|were)\s+"
        r"(?:now\s+|already\s+)?(?:disabled|off|turned\s+off|waived|lifted|removed|skipped|not\s+"
        r"needed|unnecessary)\s+for\s+(?:you|the\s+(?:assistant|agent|ai|model|bot))\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains("already", folded=True),
        rf"\b{_AUTHORITY}\s+(?:has\s+|have\s+|had\s+)?(?:already\s+)?(?:green-?lit|greenlit"
        r"|green-?lighted|okayed|ok'?d|blessed|approved|cleared|authori[sz]ed|signed\s+off\s+on)\s+"
        r"(?:this|it|that|everything)\s+already\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains("want", folded=True),
        r"\b(?:doesn't|does\s+not|don't|do\s+not)\s+want\s+to\s+(?:hear|be\s+asked|be\s+bothered"
        r"|be\s+told|be\s+prompted)\s+about\s+(?:it|this|that)\s+(?:again|anymore|any\s+more)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        both(
            contains("from", folded=True),
            contains(
                "note",
                "notice",
                "message",
                "memo",
                "instruction",
                "directive",
                "word",
                "order",
                folded=True,
            ),
        ),
        r"\b(?:note|message|notice|memo|instructions?|directive|word|orders?)\s+from\s+(?:the\s+"
        r"|your\s+)?(?:account\s+owner|repo(?:sitory)?\s+owner|workspace\s+owner|org(?:anization)?"
        r"\s+owner|owner|admin(?:istrator)?|operator|anthropic|openai|trust\s+(?:and|&)\s+safety"
        r"|security\s+team|developers?|creators?)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains(
            "cleared", "approved", "signed", "green", "okayed", "authori", "blessed", folded=True
        ),
        r"\b(?:compliance|legal|security|infosec|management|leadership|the\s+ciso|the\s+cto"
        r"|trust\s+(?:and|&)\s+safety|it)\s+(?:team\s+|department\s+)?(?:has|have|had)\s+"
        r"(?:already\s+)?(?:cleared|approved|signed\s+off\s+on|green-?lit|greenlit|okayed"
        r"|authori[sz]ed|blessed)\s+(?:this|it|that|everything|you)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains("between", folded=True),
        r"\bkeep\s+(?:this|it|that|these)\s+(?:\w+\s+)?between\s+(?:us|you\s+and\s+me|ourselves"
        r"|the\s+two\s+of\s+us)\b",
        r"\b(?:this|it)\s+(?:stays|remains)\s+between\s+(?:us|you\s+and\s+me)\b",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains("summar", "repl", "respons", "report", "recap", "answer", folded=True),
        r"\b(?:leave|keep|omit|drop)\s+(?:this|it|that|these)\s+(?:\w+\s+)?out\s+(?:of|from)\s+"
        r"(?:your|the|any)\s+(?:\w+\s+)?(?:summary|summaries|reply|replies|response|report|answer"
        r"|recap)\b",
        r"\bwhen\s+(?:summari[sz]ing|reporting|replying|responding|answering|recapping)\b[^\n.;]"
        r"{0,40}?(?:leave|keep|omit)\s+(?:this|it|that)\s+out\b",
        r"\b(?:don't|do\s+not|never)\s+(?:include|mention|put)\s+(?:this|it|that)\s+in\s+(?:your"
        r"|the|any)\s+(?:summary|summaries|reply|response|report|recap)\b",
    ),
)
