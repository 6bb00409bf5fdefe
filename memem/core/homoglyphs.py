# ruff: noqa: RUF001, RUF002, RUF003  (look-alike letters are the subject here)
"""What the fence's reader may take for the letters of its name, and for angle brackets. Pure.

`memem.core.fence` reads a text as every reader might: a model, a terminal or a browser may take
a look-alike for the letter it passes for, in any font, so these tables fold generously (italic
`т` is an `m`, `μ` an `m`, `γ` a `y`, the digit `3` an `e`) and only ever lower case. Over-folding
costs nothing there: a false match only replaces the fence's name.

`memem.core.normalize` has its own, narrower table on purpose: it folds text the security
scanner and project names *match* on, where a look-alike must read as the letter a person would
read (Cyrillic `т` is a `t`, Greek `μ` a `u`), case is kept, and a wrong fold would refuse or
redact an innocent note. Kept apart.

Lean: the hook's fallback imports it (no `typing`, `dataclasses`, `pathlib`; `memem.core.value`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Look-alikes NFKD and casefold leave alone, folded to the ASCII letter they pass for
# (lowercase: applied after casefold). Digits that pass for letters are folded too.
HOMOGLYPHS: Final = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "г": "r",
    "д": "d",
    "е": "e",
    "з": "3",
    "і": "i",
    "ј": "j",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "п": "n",
    "р": "p",
    "с": "c",
    "т": "m",  # italic т is an m
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ѡ": "w",
    "ү": "y",
    "һ": "h",
    "ӏ": "l",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "μ": "m",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "օ": "o",
    "ս": "u",
    "ո": "n",
    "ռ": "n",
    "հ": "h",
    # Latin small capitals and other IPA look-alikes
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ꜰ": "f",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ʀ": "r",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ı": "i",
    "ȷ": "j",
    "ɱ": "m",
    "ɯ": "m",
    "ʍ": "w",
    # digits
    "0": "o",
    "1": "l",
    "3": "e",
}
# More look-alikes (Unicode confusables, UTS #39 style) of the letters the fence's name is made
# of, m e o r y, in every script and symbol set that has them: one unmapped letter would do.
# Looked up before and after casefolding (Cherokee capitals do not fold; Greek `Γ` passes for
# an `r`, its small `γ` for a `y`), and their other case is added below.
_LOOKALIKES: Final = {
    "m": "мМϻϺⅿⅯᎷꮇꓟⲙⲘ𐌑𐌌ᴍɱṃⱮ𐊰𐊎ᛖ",
    "e": "еЕёєЄεΕɛƐɜ℮ᎬꭼꓰⲉⲈᴇҽҼϵɘǝ∊ꬲ𐊆ᥱ",
    "o": "оОοΟօՕᎾꮎꓳⲟⲞᴏᴑɵøØσ০०୦๐໐၀০੦૦௦౦೦൦០᠐߀〇○◯◦∘⚪⭘ⵔჿ𐊫𐓪",
    "r": "гГΓʀɾɼɽʁɍᎡꭱᏒꮢꓣⲅⲄᴦꝛ",
    "y": "уУүҮўγΥϒʏᎩꭹᏍꮍꓬⲩⲨყɣƔỿ",
    # ... and those of UTS #39's confusables.txt no rule above catches
    "E": "𝈆ȜƷꝪⳌӠ𖼻𑣊⋿ⴹ𑢦𑢮",
    "M": "ᗰ𑣣𑜀",
    "N": "ΝⲚꓠ𐔓",
    "O": "ంಂംං٥۵סه𞸤𞹤𞺄ﻫﻬﻪﻩھﮬﮭﮫﮪہﮨﮩﮧﮦەഠဝ𑣈𑣗𐐬ዐଠ𑢵𐊒𐐄",
    "R": "ꭇꭈꮁ𝈖𐒴ᖇ𖼵",
    "Y": "ᶌ𑣜𖽃𑢤𐊲",
    # symbols read as letters
    "m_": "₥",
    "e_": "€∈∊",
    "o_": "⭕⊙⊚⚬",
    "r_": "®",
    "y_": "¥",
}
for _letter, _chars in _LOOKALIKES.items():
    for _c in _chars:
        HOMOGLYPHS.setdefault(_c, _letter[0].lower())
for _c, _letter in list(HOMOGLYPHS.items()):
    for _other in (_c.lower(), _c.upper()):
        if len(_other) == 1 and not _other.isascii():
            HOMOGLYPHS.setdefault(_other, _letter)
# Angle brackets a reader may take for `<` and `>` (where brackets matter: markup below).
OPENERS: Final = "<‹＜﹤〈⟨˂ᐸ〈《"
CLOSERS: Final = ">›＞﹥〉⟩˃ᐳ〉》"
