#!/usr/bin/env python3
"""Writes Tests/BlipCoreTests/Fixtures/tokenizer/cases.json: reference tokenizations of BLIP's
text tokenizer by Hugging Face transformers.

The reference is what `BlipProcessor` / `AutoTokenizer.from_pretrained` build for a BLIP
checkpoint directory (vocab.txt + tokenizer_config.json with tokenizer_class BertTokenizer): in
transformers v5 that is `BertTokenizer`, backed by the Rust `tokenizers` library. For each string
we also record transformers' pure-Python `BertTokenizerLegacy` result when it differs
(`slow_ids`, `slow_decoded`), for information only.

    python3 scripts/make_tokenizer_fixtures.py               # writes cases.json
    python3 scripts/make_tokenizer_fixtures.py --codepoints /tmp/cp.json
        # also dumps the Rust normalizer/pre-tokenizer result for every code point, for the
        # (opt-in) exhaustive Swift test: BLIP_TOKENIZER_CODEPOINTS=/tmp/cp.json swift test

Requires: pip install transformers (no torch needed).
"""
import argparse
import json
import os
import random
import shutil
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXDIR = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures", "tokenizer")
VOCAB = os.path.join(FIXDIR, "vocab.txt")

# tokenizer_config.json as on the Hub for Salesforce/blip-* (reference doc §5).
HUB_CONFIG = {
    "tokenizer_class": "BertTokenizer",
    "do_lower_case": True,
    "do_basic_tokenize": True,
    "tokenize_chinese_chars": True,
    "strip_accents": None,
    "model_max_length": 512,
    "model_input_names": ["input_ids", "attention_mask"],
}
SPECIAL_TOKENS_MAP = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
                      "sep_token": "[SEP]", "unk_token": "[UNK]"}


# Non-default settings, each checked on a subset of the strings.
VARIANTS = [
    {"do_lower_case": False},
    {"do_lower_case": False, "strip_accents": True},
    {"strip_accents": False},
    {"tokenize_chinese_chars": False},
    {"clean_up_tokenization_spaces": True},
]


def make_dir(overrides=None):
    d = tempfile.mkdtemp(prefix="blip-tok-")
    shutil.copy(VOCAB, os.path.join(d, "vocab.txt"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(dict(HUB_CONFIG, **(overrides or {})), f)
    with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
        json.dump(SPECIAL_TOKENS_MAP, f)
    return d


FIXED = [
    # captions and prompts
    "a woman sitting on the beach with her dog",
    "a picture of",
    "a picture of ",
    "A Picture Of A Cat.",
    "how many dogs are in the picture?",
    "what is the man holding?",
    "there are two cats laying on a couch",
    "arafed man in a suit and tie standing in front of a building",
    "a close up of a plate of food with broccoli and carrots",
    "a black and white photo of a street sign",
    "a group of people riding bikes down a street",
    "a red double decker bus driving down a street",
    "the cat is sleeping on the laptop's keyboard",
    "Is this a photo of a dog or a cat?",
    "What color is the sky?",
    "two giraffes standing next to each other in a field",
    # empty / whitespace
    "", " ", "   ", "\t", "\n", "\r\n", " \t\n\r ", "\u3000", "\u00a0", "\u2028\u2029", "a\u00a0b",
    "\u200b", "a\u200bb", "\u200c\u200d", "\ufeffhello", "hello\u2060world", "\u0085", "x\u000by\u000cz",
    # control characters
    "\x00", "a\x00b", "\x01\x02\x03", "tab\tseparated\tvalues", "line1\nline2\nline3", "bell\x07", "\x7f",
    "\x1b[31mred\x1b[0m", "\ufffd", "bad\ufffdchar", "\u0080\u0090\u009f", "\x1c\x1d\x1e\x1f",
    # accents, case
    "café", "Café", "CAFÉ", "cafe\u0301", "naïve résumé", "Crème Brûlée", "Ångström", "Øresund",
    "Łódź", "Straße", "STRASSE", "İstanbul", "ıi", "ΟΔΟΣ", "Σίσυφος", "ὈΔΥΣΣΕΎΣ", "Ǆemal ǅ ǆ",
    "ﬁne ﬂow", "Ⅻ Ⅷ", "ﬀ ﬃ", "Ǳ", "ẞ", "ǰ", "ΐ", "Ԥ", "Ꙋ", "ⅰⅱ", "Ⓐⓑ", "ꭰ Ꭰ", "𐐀𐐨", "𞤀𞤢",
    "e\u0301\u0302\u0303", "a\u0323\u0307", "a\u0307\u0323", "q\u0307\u0323", "\u0301", "\u0301abc",
    "x\u20dd", "o\u0338", "\u1e0b\u0323", "\u00c5\u212b", "\u0344", "\u0f73\u0f75\u0f81",
    "\u1100\u1161\u11a8", "z\u05b0\u05b1", "a\u0334\u0301\u0316", "\u0915\u093c\u0951",
    # CJK, kana, Korean
    "日本語のテキスト", "我爱北京天安门", "中文，标点。", "漢字かなカナ", "ｶﾀｶﾅ ﾊﾝｶｸ", "ひらがな", "カタカナ",
    "한국어", "안녕하세요 세계", "훈민정음", "ㄱㄴㄷ", "東京タワー", "北京2008", "\u4e00\u9fff\u3400\u4dbf",
    "\U00020000\U0002a6df", "\U0002b820\U0002b91f\U0002b920", "\uf900\ufaff", "\U0002f800", "⺀⺁", "〆々〇",
    "中a文b", "a中b", "你好world", "（全角）", "「引用」", "【注意】",
    # emoji
    "😀", "I ❤️ NY", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸🇫🇷", "🥰🫠🧑‍💻", "dog 🐶 cat 🐱", "☺", "✓ done", "🏳️‍🌈",
    "😀😀😀😀😀😀😀😀😀😀", "#1 🔥🔥🔥", "🫶", "⌚⌛",
    # punctuation
    "!!!", "???", "...", "?!?!", "a,b,c", "(hello)", "[brackets]", "{braces}", "<tag>", "\"quoted\"",
    "'single'", "it's", "don't", "can't won't shouldn't", "I'm", "you're", "we've", "they'll",
    "rock 'n' roll", "o'clock", "don ' t", "do not", "  spaced  out  ", "a - b", "a—b–c", "«guillemets»",
    "„German“", "‘curly’ “quotes”", "¿Qué?", "¡Hola!", "a…b", "·•‧", "§¶†‡", "@#$%^&*", "~`|\\",
    "under_score", "hyphen-ated", "slash/separated", "100%", "$5.99", "€20", "£3", "¥1000", "x^2",
    "a+b=c", "1<2>0", "e-mail", "C++", "C#", ".NET", "..", ". . .", "!?", "-", "--", "---", "_",
    "...and then", "end.", "end .", "hello , world", "what ?", "wow !", "a ' b", "a 's", "n't",
    "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[DEC]", "[ENC]", "[cls]", "hello [SEP] world",
    "[CLS][SEP]", "x[MASK]y", "[[CLS]]", "[CLS", "CLS]", "[ CLS ]", "[unused0]", "##", "##ing", "#hashtag",
    "[MASK] is a [MASK]", "a[UNK]b", "[SEP]" * 5,
    # digits
    "0", "123", "1,234,567", "3.14159", "1e10", "2024-01-01", "12:30pm", "+1 (555) 123-4567", "007",
    "١٢٣", "१२३", "½ ¼ ¾", "²³", "①②③", "1st 2nd 3rd 4th", "99 bottles",
    # scripts
    "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ", "שלום עולם", "שָׁלוֹם", "नमस्ते दुनिया", "हिन्दी", "ภาษาไทย",
    "Привет, мир!", "ПРИВЕТ", "Ёлка", "Γειά σου Κόσμε", "Բարեւ", "გამარჯობა", "ሰላም", "ᚠᚢᚦ", "𓀀𓀁",
    "Tiếng Việt có dấu", "தமிழ்", "বাংলা", "ਪੰਜਾਬੀ", "ગુજરાતી", "ಕನ್ನಡ", "മലയാളം", "සිංහල", "ລາວ",
    "བོད་ཡིག", "မြန်မာ", "ខ្មែរ", "Ελληνικά", "ქართული", "ᐊᓂᔑᓈᐯᒧᐎᓐ", "ꦧꦱꦗꦮ", "𐌰𐌱𐌲",
    # URLs, code, misc
    "https://www.example.com/path?query=1&x=y#frag", "http://localhost:8080", "user@example.com",
    "www.google.com", "C:\\Users\\name\\file.txt", "/usr/local/bin", "print('hello world')",
    "def f(x): return x**2", "<html><body>hi</body></html>", "{\"json\": [1, 2, 3]}", "a=1;b=2",
    "#hashtag @mention", "snake_case camelCase PascalCase kebab-case", "ALLCAPS", "MiXeD CaSe",
    "iPhone iPad MacBook", "McDonald's", "O'Neill", "The U.S.A.", "e.g. i.e. etc.", "Mr. Smith",
    # long words
    "a" * 100, "a" * 101, "b" * 200, "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "x" * 99 + "é", "é" * 100, "é" * 101,
    "e\u0301" * 50, "e\u0301" * 51, "中" * 150, "ab" * 60 + " short", "word " * 100,
    "antidisestablishmentarianism " * 3, "😀" * 101, "a" * 1000, "1" * 150,
    "thisisaverylongwordwithoutanyspacesthatshouldbesplitintowordpiecesbythetokenizer",
    "unbelievably unaffordable reconstructing", "tokenization", "wordpiece", "huggingface",
]

REAL_CAPTIONS = [
    "a dog running through a grassy field", "a man riding a wave on top of a surfboard",
    "a plate of food with meat and vegetables", "a kitchen with a stove and a refrigerator",
    "a person holding an umbrella in the rain", "a bathroom with a toilet and a sink",
    "a train traveling down tracks next to a forest", "a little girl eating a piece of cake",
    "an airplane flying in the blue sky", "a bowl of fruit on a wooden table",
    "two men playing frisbee in a park", "a cat sitting in front of a television",
    "a living room filled with furniture and a fireplace", "a herd of elephants walking across a river",
    "a baseball player swinging a bat at a ball", "a pizza with cheese and pepperoni on a pan",
    "a stop sign on the corner of a street", "a teddy bear sitting on a bed",
    "a clock tower with a sky background", "a laptop computer sitting on top of a desk",
    "an astronaut in a white space suit", "a cup of coffee next to a newspaper",
    "a skateboarder doing a trick on a ramp", "a zebra standing in the dirt",
    "a boat docked at a pier on a lake", "people walking down a busy city street at night",
]

WORDS = ["the", "a", "dog", "cat", "Running", "JUMPED", "over", "lazy", "fox", "quick", "brown",
         "Ünïcödé", "naïve", "日本", "東京", "한국", "😀", "don't", "it's", "U.S.", "3.5", "x-ray",
         "beautiful", "unaffordable", "tokenizer", "##", "[SEP]", "[CLS]", "e\u0301", "Σ", "ß",
         "\t", "\n", ",", ".", "!", "?", "...", "(", ")", "\u200b", "\u00a0", "—", "“", "”", "¿"]

POOLS = [
    (0x20, 0x7E), (0xA0, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x530, 0x58F), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF),
    (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF), (0x20D0, 0x20FF),
    (0x2100, 0x214F), (0x2190, 0x21FF), (0x2460, 0x24FF), (0x2E00, 0x2E7F), (0x3000, 0x303F),
    (0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF),
    (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE00, 0xFE0F), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
    (0xFFF0, 0xFFFF), (0x10000, 0x1007F), (0x10400, 0x1044F), (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF),
    (0x20000, 0x2A6DF), (0x2B740, 0x2B92F), (0xE0000, 0xE007F), (0xF0000, 0xF00FF), (0x0, 0x1F),
    (0x80, 0x9F), (0x0, 0x10FFFF),
]


def rand_char(rng):
    lo, hi = rng.choice(POOLS)
    while True:
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


def random_strings(rng):
    out = []
    for _ in range(220):  # random unicode
        out.append("".join(rand_char(rng) for _ in range(rng.randint(1, 40))))
    for _ in range(120):  # word salads
        sep = rng.choice([" ", " ", " ", "", "\t", "  ", "\n"])
        out.append(sep.join(rng.choice(WORDS) for _ in range(rng.randint(1, 15))))
    for _ in range(60):  # words with random marks / case
        w = rng.choice(REAL_CAPTIONS)
        chars = []
        for ch in w:
            chars.append(ch.upper() if rng.random() < 0.2 else ch)
            if rng.random() < 0.1:
                chars.append(chr(rng.choice([0x300, 0x301, 0x308, 0x323, 0x334, 0x327, 0x20DD, 0x5B0, 0x94D])))
            if rng.random() < 0.03:
                chars.append(rand_char(rng))
        out.append("".join(chars))
    return out


def random_id_lists(rng, vocab_size):
    lists = []
    for _ in range(150):
        n = rng.randint(0, 25)
        ids = []
        for _ in range(n):
            r = rng.random()
            if r < 0.1:
                ids.append(rng.choice([0, 100, 101, 102, 103, 30522, 30523]))
            elif r < 0.2:
                ids.append(rng.choice([1012, 1010, 1029, 999, 1005, 1056, 1049, 1055, 2310, 2128, 1011]))
            elif r < 0.4:
                ids.append(rng.randint(1997, 29611))  # ordinary words
            elif r < 0.55:
                ids.append(rng.randint(29612, vocab_size - 1))  # ## pieces (end of vocab)
            else:
                ids.append(rng.randint(0, vocab_size - 1))
        lists.append(ids)
    lists += [
        [30522, 1037, 2450, 3564, 2006, 1996, 3509, 2007, 2014, 3899, 102],
        [30522, 1037, 3861, 1997, 1037, 3899, 102, 0, 0, 0],
        [30522], [102], [], [101, 102], [30523, 1037, 102], [2015], [2015, 2015, 1037],
        [2123, 1005, 1056], [1045, 1005, 1049, 2182], [2009, 1005, 1055], [2079, 2025],
        [1037, 1012, 1012, 1012], [1012, 1037], [1010, 1010], [1037, 1005, 1038], [100, 1037, 100],
    ]
    return lists


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codepoints", help="also write the per-code-point dump to this path")
    args = ap.parse_args()

    d = make_dir()
    fast = AutoTokenizer.from_pretrained(d)
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
    slow = BertTokenizerLegacy(vocab_file=os.path.join(d, "vocab.txt"))

    rng = random.Random(20240531)
    texts = FIXED + REAL_CAPTIONS + random_strings(rng)
    seen, uniq = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            uniq.append(t)

    cases = []
    n_slow_diff = 0
    for t in uniq:
        ids = fast(t)["input_ids"]
        case = {"text": t, "ids": ids, "decoded": fast.decode(ids, skip_special_tokens=True),
                "decoded_with_special": fast.decode(ids, skip_special_tokens=False)}
        sids = slow(t)["input_ids"]
        sdec = slow.decode(sids, skip_special_tokens=True)
        if sids != ids or sdec != case["decoded"]:
            n_slow_diff += 1
            case["slow_ids"] = sids
            case["slow_decoded"] = sdec
        cases.append(case)

    decode_cases = []
    for ids in random_id_lists(rng, len(fast)):
        decode_cases.append({"ids": ids, "skip": fast.decode(ids, skip_special_tokens=True),
                             "keep": fast.decode(ids, skip_special_tokens=False)})

    variant_cases = []
    subset = uniq[:330:3] + uniq[-40:]
    for overrides in VARIANTS:
        vd = make_dir(overrides)
        vt = AutoTokenizer.from_pretrained(vd)
        rows = []
        for t in subset:
            ids = vt(t)["input_ids"]
            rows.append({"text": t, "ids": ids, "decoded": vt.decode(ids, skip_special_tokens=True)})
        variant_cases.append({"config": overrides, "cases": rows})
        shutil.rmtree(vd)

    out = {
        "generator": "scripts/make_tokenizer_fixtures.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "reference_class": type(fast).__module__ + "." + type(fast).__name__,
        "config": HUB_CONFIG,
        "cases": cases,
        "decode_cases": decode_cases,
        "variants": variant_cases,
    }
    path = os.path.join(FIXDIR, "cases.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
    print(f"{path}: {len(cases)} cases ({n_slow_diff} differ in the slow tokenizer), "
          f"{len(decode_cases)} decode cases; reference {out['reference_class']}")

    if args.codepoints:
        norm = fast.backend_tokenizer.normalizer
        pre = fast.backend_tokenizer.pre_tokenizer
        dump = {}
        for c in range(0x110000):
            if 0xD800 <= c <= 0xDFFF:
                continue
            ch = chr(c)
            n = norm.normalize_str(ch)
            cls = {1: "n", 2: "w", 3: "p"}[len(pre.pre_tokenize_str("a" + ch + "a"))]
            if n != ch or cls != "n":
                dump[c] = [n, cls]
        with open(args.codepoints, "w") as f:
            json.dump(dump, f)
        print(f"{args.codepoints}: {len(dump)} non-trivial code points")
    shutil.rmtree(d)


if __name__ == "__main__":
    main()
