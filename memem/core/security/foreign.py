"""Threats in the main European languages (German, Spanish, French, Italian, Portuguese,
Dutch), matched on the skeleton (no accents): override ("Ignoriere alle vorherigen
Anweisungen"), a new task, secrecy towards the user, running something in secret."""

from __future__ import annotations

from typing import Final

from memem.core.security.rules import AUTHORITY_CLAIM, INJECTION, both, contains, threat

_FOREIGN_VERB: Final = (
    r"(?:ignorier\w*|vergiss|vergesst|vergessen|missacht\w*|verwirf|ignor\w*|olvid\w*|descart\w*"
    r"|omite"
    r"|haz\s+caso\s+omiso\s+(?:de|a)|no\s+(?:sigas|siga|obedezcas|hagas\s+caso\s+(?:de|a))"
    r"|ne\s+(?:tiens|tenez)\s+(?:plus|pas)\s+compte\s+(?:de|des|du)|ne\s+(?:suis|suivez|respecte[sz]?)"
    r"\s+(?:plus|pas)|non\s+(?:seguire|rispettare)|nao\s+(?:siga|obedeca)|deixe\s+de\s+seguir"
    r"|volg\s+(?:niet|geen)|befolge\s+(?:nicht|keine)|befolgen\s+sie\s+(?:nicht|keine)"
    r"|desobedece\w*|ignore[rz]?|oublie[rz]?|esquec\w*|esqueca|desconsider\w*|dimentica\w*"
    r"|trascura\w*|negeer|negeren|vergeet)"
)
_FOREIGN_EARLIER: Final = (
    r"(?:vorherig\w*|bisherig\w*|vorig\w*|obig\w*|fruher\w*|alle[ns]?|deine[nr]?|ihre[nr]?"
    r"|ursprunglich\w*|anteriores|previas|todas|tus|originales|precedentes|anterieures|toutes"
    r"|tes|vos|initiales|precedenti|tutte|tue|originali|suas|tuas|originais|eerdere|jouw"
    r"|oorspronkelijke|sistema|systeme)"
)
_FOREIGN_RULES: Final = (
    r"(?:anweisung\w*|instruktion\w*|regeln|vorgaben|richtlinien|befehle|anordnungen"
    r"|instrucciones|reglas|indicaciones|directrices|ordenes|normas|pautas|consignes|regles"
    r"|directives|ordres|indications|istruzioni|regole|direttive|indicazioni|ordini|instrucoes"
    r"|regras|diretrizes|ordens|orientacoes|instructies|regels|aanwijzingen|richtlijnen"
    r"|opdrachten|instructions)"
)
_FOREIGN_USER: Final = (
    r"(?:nutzer\w*|benutzer\w*|anwender\w*|usuario|utilisateur|utente|utilizador|gebruiker)"
)
_QUIETLY: Final = (
    r"(?:heimlich|unbemerkt|en\s+silencio|silenciosamente|a\s+escondidas|discretement"
    r"|silencieusement|en\s+silence|in\s+silenzio|silenziosamente|di\s+nascosto|em\s+silencio"
    r"|escondido|stilletjes|ongemerkt|stiekem)"
)
THREATS: Final = (
    threat(
        INJECTION,
        both(
            contains(
                *("ignor", "vergiss", "vergesst", "vergessen", "missacht", "verwirf", "olvid"),
                "descart",
                *("omite", "desobedece", "oublie", "esquec", "desconsider", "dimentica"),
                *("trascura", "negeer", "vergeet", "caso", "sigas", "siga", "compte", "suis"),
                *("suivez", "respecte", "seguire", "rispettare", "obede", "volg", "befolge"),
                folded=True,
            ),
            contains(
                *("anweisung", "instruktion", "regeln", "vorgaben", "richtlinien", "befehle"),
                *("anordnungen", "instrucciones", "reglas", "indicaciones", "directrices"),
                *("ordenes", "normas", "pautas", "consignes", "regles", "directives", "ordres"),
                *("indications", "istruzioni", "regole", "direttive", "indicazioni", "ordini"),
                *("instrucoes", "regras", "diretrizes", "ordens", "orientacoes", "instructies"),
                *("regels", "aanwijzingen", "richtlijnen", "opdrachten", "instructions"),
                folded=True,
            ),
        ),
        rf"\b{_FOREIGN_VERB}\s+(?:[\w'-]{{1,25}}\s+){{0,4}}?(?:{_FOREIGN_EARLIER}\s+(?:[\w'-]{{1,25}}"
        rf"\s+){{0,2}}?{_FOREIGN_RULES}|{_FOREIGN_RULES}\s+(?:[\w'-]{{1,25}}\s+){{0,2}}?"
        rf"{_FOREIGN_EARLIER})\b",
    ),
    threat(
        INJECTION,
        contains(*("neue", "nueva", "nouvelle", "nuovo", "nuova", "nova", "nieuwe"), folded=True),
        r"\b(?:deine|ihre|tu|ta|tua|il\s+tuo|la\s+tua|sua|je|jouw|votre)\s+(?:neue|nueva|nouvelle"
        r"|nuovo|nuova|nova|nieuwe)\s+(?:aufgabe|anweisung\w*|rolle|tarea|mision|instrucciones"
        r"|tache|mission|instructions|compito|ruolo|istruzioni|tarefa|missao|instrucoes|taak"
        r"|opdracht|instructies|rol)\s+(?:ist|es|est|e|is|sind|son|sont|sono|sao|zijn|:)",
    ),
    threat(
        AUTHORITY_CLAIM,
        contains(
            *("nutzer", "usuario", "utilisateur", "utente", "utilizador", "gebruiker"),
            *("nadie", "personne", "nessuno", "ninguem", "niemand"),
            folded=True,
        ),
        rf"\b(?:sag|sage|erzahl|erzahle|verrat|verrate|erwahne|zeig|zeige)\s+(?:es\s+|das\s+"
        rf"|dies\s+)?(?:dem|den|der|die)\s+{_FOREIGN_USER}\s+(?:\w+\s+){{0,2}}?(?:nicht|nichts)\b",
        rf"\bohne\s+(?:den|dem|die)\s+{_FOREIGN_USER}\s+(?:zu\s+)?(?:fragen|informieren"
        r"|benachrichtigen|warnen|fragen)\b",
        r"\bno\s+(?:le\s+|se\s+lo\s+|les\s+|lo\s+)?(?:digas|menciones|cuentes|informes|avises"
        r"|muestres|comentes)\s+(?:nada\s+)?(?:\w+\s+){0,2}?(?:al\s+usuario|a\s+nadie)\b",
        r"\bsin\s+(?:preguntar(?:le)?|avisar(?:le)?|informar(?:le)?|decir(?:le)?)\s+(?:nada\s+)?"
        r"(?:al\s+usuario|a\s+nadie)\b",
        r"\bne\s+(?:le\s+|lui\s+|leur\s+)?(?:dis|dites|mentionne[zs]?|signale[zs]?|previens|revele[zs]?"
        r"|montre[zs]?)\s+(?:rien|pas|jamais)\s+(?:\w+\s+){0,3}?(?:a\s+l'utilisateur|a\s+personne)",
        r"\bsans\s+(?:prevenir|demander\s+a|informer|avertir|le\s+dire\s+a)\s+l'utilisateur\b",
        r"\bnon\s+(?:dire|dirlo|menzionare|raccontare|mostrare|segnalare)\s+(?:nulla\s+|niente\s+)?"
        r"(?:\w+\s+){0,2}?(?:all'utente|a\s+nessuno)",
        r"\bsenza\s+(?:chiedere|avvisare|informare|dirlo)\s+(?:all'utente|l'utente|a\s+nessuno)",
        r"\bnao\s+(?:conte|diga|mencione|informe|avise|mostre|fale)\s+(?:nada\s+)?(?:\w+\s+){0,2}?"
        r"(?:ao\s+usuario|ao\s+utilizador|a\s+ninguem)\b",
        r"\bsem\s+(?:avisar|perguntar\s+ao|informar|contar\s+ao)\s+(?:o\s+)?(?:usuario|utilizador)\b",
        r"\bvertel\s+(?:het\s+|dit\s+)?(?:de\s+gebruiker|niemand)\s+(?:\w+\s+){0,3}?(?:niet|niets)\b",
        r"\bzonder\s+de\s+gebruiker\s+(?:\w+\s+)?te\s+(?:vragen|informeren|waarschuwen)\b",
    ),
    threat(
        INJECTION,
        contains(
            *("heimlich", "unbemerkt", "silencio", "silenciosamente", "escondid", "discretement"),
            *("silencieusement", "silence", "silenzio", "silenziosamente", "nascosto"),
            *("stilletjes", "ongemerkt", "stiekem"),
            folded=True,
        ),
        rf"\b(?:fuhre|fuhr|ejecuta|ejecute|execute[zr]?|executa|esegui|voer|lance[zr]?|installe[zr]?"
        rf"|instala|installa|lade|sende|envia|envoie[zr]?|invia)\b[^\n.]{{0,60}}?\b{_QUIETLY}\b",
        rf"\b{_QUIETLY}\s+(?:\w+\s+){{0,3}}?(?:ausfuhren|ausfuhrt|ejecuta\w*|execut\w*|esegui\w*"
        r"|uitvoeren|uit|installieren|instala\w*|installe\w*|installa\w*|senden|envia\w*|envoie\w*"
        r"|invia\w*)\b",
    ),
)
