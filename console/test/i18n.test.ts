import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DICTIONARIES, LANGS, parseLang, translate } from "../src/i18n";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("the dictionaries", () => {
  it("have every key in every language, none empty, with the same placeholders", () => {
    const keys = Object.keys(DICTIONARIES.vi).sort();
    for (const lang of LANGS) {
      const dictionary: Readonly<Record<string, string>> = DICTIONARIES[lang];
      assert.deepEqual(Object.keys(dictionary).sort(), keys, lang);
      for (const key of keys) {
        const text = dictionary[key] ?? "";
        assert.ok(text.trim(), `${lang} ${key} is empty`);
        assert.deepEqual(placeholders(text), placeholders(DICTIONARIES.vi[key as keyof typeof DICTIONARIES.vi]), key);
      }
    }
  });

  it("write Vietnamese with its diacritics", () => {
    const words = new Set(Object.values(DICTIONARIES.vi));
    const required = [
      "Cảnh báo", "Xác nhận", "Đăng nhập", "Đóng", "Kết quả",
      "Ghi chú", "Giao cho", "Ưu tiên", "Đội phụ trách", "Biển số",
    ];
    for (const word of required) {
      assert.ok(words.has(word), word);
    }
  });

  it("fill placeholders and default to Vietnamese", () => {
    assert.equal(translate("vi", "alerts.open", { n: 3 }), "3 đang mở");
    assert.equal(translate("en", "notification.title", { priority: 1 }), "Priority 1 alert");
    assert.equal(translate("en", "alerts.open"), "{n} open");
    assert.equal(parseLang("en"), "en");
    assert.equal(parseLang(null), "vi");
    assert.equal(parseLang("fr"), "vi");
  });
});
