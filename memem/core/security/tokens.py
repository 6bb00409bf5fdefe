"""Provider tokens: cloud keys and the tokens of common services, recognisable on their own."""

from __future__ import annotations

import re
from typing import Final

from memem.core.security.rules import Gate, Rule

# Provider tokens, recognisable on their own. One rule a line: kind, its gate (literals, one of
# which every match holds; "i:" ones are looked for in the folded text), then the pattern (no
# spaces in either). Earlier rules win when spans overlap.
_TOKEN_TABLE: Final = r"""
aws-access-key  AKIA,ASIA,ABIA,ACCA,AGPA,AIDA,AIPA,ANPA,ANVA,AROA  \b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA)[A-Z0-9]{16}\b
aws-secret-key  i:aws  (?i:aws_?secret_?access_?key)\W{1,12}(?P<secret>[\w/+=]{40})(?![\w/+=])
github-token    ghp_,gho_,ghu_,ghs_,ghr_,github_pat_  \b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})(?!\w)
anthropic-key   sk-ant-  \bsk-ant-[\w-]{20,}
openai-key      sk-  \bsk-(?:(?:proj|svcacct|admin)-[\w-]{20,}|[A-Za-z0-9]{20,}(?![\w-]))
stripe-key      k_live_,k_test_,k_prod_,whsec_  \b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{16,}|\bpk_live_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}
google-api-key  AIza  \bAIza[\w-]{35}(?![\w-])
google-oauth    GOCSPX-,ya29.  \bGOCSPX-[\w-]{20,}|\bya29\.[\w-]{20,}
slack-webhook   https://hooks.slack.com/  https://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]{20,}
slack-token     xox,xapp-  \b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}
discord-webhook i:discord  (?i:https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/)\d{5,30}/[\w-]{20,}
discord-token   .  \b[MNO][A-Za-z\d_-]{23,27}\.[\w-]{6}\.[\w-]{27,40}\b
telegram-bot-token  :AA  \b\d{6,12}:AA[\w-]{30,40}(?![\w-])
gitlab-token    glpat-,glptt-,gldt-,glrt-,glsoat-,glcbt-  \b(?:glpat|glptt|gldt|glrt|glsoat|glcbt)-[\w-]{20,}
npm-token       npm_  \bnpm_[A-Za-z0-9]{36}\b
pypi-token      pypi-  \bpypi-AgE[\w-]{50,}
huggingface-token hf_  \bhf_[A-Za-z0-9]{30,}\b
sendgrid-key    SG.  \bSG\.[\w-]{16,32}\.[\w-]{30,50}
mailgun-key     key-  \bkey-[0-9a-f]{32}\b
twilio-key      SK  \bSK[0-9a-f]{32}\b
shopify-token   shpat_,shpca_,shppa_,shpss_  \bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b
square-token    sq0,EAAA  \bsq0(?:atp|csp|idp)-[\w-]{22,60}|\bEAAA[\w-]{60,}
digitalocean-token  _v1_  \bdo[opr]_v1_[a-f0-9]{64}\b
heroku-key      HRKU-,i:heroku  \bHRKU-[\w-]{40,}|(?i:heroku)[\w-]{0,30}[\s\"':=]{1,5}(?P<secret>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b
vercel-token    vcp_,vci_,vca_,vcr_,vck_  \bvc[pkiar]_[A-Za-z0-9]{24,}
linear-key      lin_  \blin_(?:api|oauth)_[A-Za-z0-9]{32,}
notion-token    secret_,ntn_  \bsecret_[A-Za-z0-9]{43}\b|\bntn_[A-Za-z0-9]{40,}
docker-token    dckr_pat_,dckr_oat_  \bdckr_(?:pat|oat)_[\w-]{20,}
azure-key       Q~,i:accountkey,i:sharedaccess  \b[\w.-]{3}\dQ~[\w~.-]{31,34}|(?i:AccountKey|SharedAccessKey|SharedAccessSignature)=(?P<secret>[\w+/%=]{20,})
azure-sas       sig=  [?&]sig=(?P<secret>[\w%+/=]{20,})
groq-key        gsk_  \bgsk_[A-Za-z0-9]{40,}
replicate-token r8_  \br8_[A-Za-z0-9]{30,}
atlassian-token ATATT  \bATATT[\w=-]{100,}
age-secret-key  AGE-SECRET-KEY-  \bAGE-SECRET-KEY-1[0-9A-Z]{50,}
postman-key     PMAK-  \bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b
databricks-token  dapi  \bdapi[a-f0-9]{32}(?:-\d)?\b
supabase-token  sbp_  \bsbp_[a-f0-9]{40}\b
newrelic-key    NRAK-  \bNRAK-[A-Z0-9]{27}\b
grafana-token   glc_,glsa_  \bglc_[\w+/=]{32,}|\bglsa_[A-Za-z0-9]{32}_[a-f0-9]{8}\b
tailscale-key   tskey-  \btskey-(?:auth|api|client|webhook)-[\w-]{20,}
vault-token     hvs.,hvb.  \bhv[sb]\.[\w-]{24,}
planetscale-token  pscale_  \bpscale_(?:tkn|pw|oauth)_[\w.-]{32,}
sentry-token    sntrys_,sntryu_  \bsntry[su]_[\w+/=]{40,}
doppler-token   dp.pt.,dp.st.,dp.sa.,dp.ct.,dp.scim.,dp.audit.  \bdp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{1,40}\.)?[A-Za-z0-9]{40,}(?![\w.])
mailchimp-key   -us  \b[0-9a-f]{32}-us\d{1,2}\b
airtable-token  pat  \bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b
alibaba-key     LTAI  \bLTAI[A-Za-z0-9]{12,24}\b
mapbox-token    sk.eyJ  \bsk\.eyJ[\w.-]{50,}
figma-token     figd_  \bfigd_[\w-]{40,}
jwt             eyJ  \beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}
"""
# Legacy OpenAI keys have no dashes, so kebab-case words after "sk-" are not keys. A "."
# gate means the rule has no literal of its own and is tried whenever a "." is present.


def _varied(m: re.Match[str]) -> bool:
    """A token, unless its tail is a mask ("sk_test_xxxxxxxxxxxxxxxxxxxxxxxx")."""
    return len(set(m.group()[-16:])) > 3


def _token_gate(spec: str) -> Gate:
    plain = tuple(w for w in spec.split(",") if not w.startswith("i:"))
    folded = tuple(w[2:] for w in spec.split(",") if w.startswith("i:"))
    return lambda t, f: any(map(t.__contains__, plain)) or any(map(f.__contains__, folded))


# Earlier rules win when spans overlap.
RULES: Final = tuple(
    Rule(kind, re.compile(pattern), _token_gate(gate), _varied, gate != ".")
    for kind, gate, pattern in map(str.split, _TOKEN_TABLE.strip().splitlines())
)


# Every gate literal of the grouped token rules, plain and folded: one search tells whether any
# of those rules may match, and most notes hold none.
_TOKEN_LITERALS: Final = tuple(
    w for line in _TOKEN_TABLE.strip().splitlines() for w in line.split()[1].split(",") if w != "."
)
_TOKEN_PLAIN: Final = re.compile(
    "|".join(re.escape(w) for w in _TOKEN_LITERALS if not w.startswith("i:"))
)
_TOKEN_FOLDED: Final = re.compile(
    "|".join(re.escape(w[2:]) for w in _TOKEN_LITERALS if w.startswith("i:"))
)


def may_match(text: str, folded: str) -> bool:
    if len(text) > 4096:  # on long text the per-rule substring tests are cheaper than a regex
        return True
    return _TOKEN_PLAIN.search(text) is not None or _TOKEN_FOLDED.search(folded) is not None
