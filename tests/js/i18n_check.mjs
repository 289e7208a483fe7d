// The web app's languages, for tests/control_plane/test_web_languages.py. Argument: a folder with a
// copy of static/js/i18n.js and static/js/i18n/ (and a package.json making them ES modules). Prints
// JSON: the catalogues, each language's plural categories (Intl.PluralRules), and what t(), the
// choice of language and the formatting give for a few cases.

const dir = process.argv[2];

// What i18n.js reads from a browser: its languages, localStorage, <html lang>, DOM nodes.
const store = new Map();
let browser = ["en-US", "en"];
Object.defineProperty(globalThis, "navigator", { configurable: true, get: () => ({ languages: browser, language: browser[0] }) });
globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
globalThis.document = { documentElement: { lang: "" } };
globalThis.Node = class Node {};

const i18n = await import(`${dir}/i18n.js`);
const out = { languages: i18n.LANGUAGES, catalogues: i18n.CATALOGUES, plurals: {}, cases: {} };
for (const code of Object.keys(i18n.CATALOGUES)) {
  out.plurals[code] = new Intl.PluralRules(code).resolvedOptions().pluralCategories;
}

const cases = out.cases;
cases.default = i18n.initLanguage();
cases.defaultLang = document.documentElement.lang;
for (const list of [["de-AT", "en"], ["fr-FR", "de"], ["fr", "it"], ["en-GB", "de"], []]) {
  cases[`browser ${list.join(",")}`] = i18n.browserLanguage(list);
}
browser = ["de-DE", "de", "en"];
cases.german = i18n.initLanguage();
cases.germanLang = document.documentElement.lang;
cases.germanLocale = i18n.locale();
cases.repeatOne = i18n.t("meeting.repeat.weekly", { count: 1 });
cases.repeatMany = i18n.t("meeting.repeat.weekly", { count: 3 });
cases.number = i18n.t("meeting.upTo", { count: 1500 });
cases.placeholder = i18n.t("meeting.hostedBy", { owner: "Ada" });
cases.missingParam = i18n.t("meeting.hostedBy");
cases.weekday = i18n.weekdayName("WE", "long");
cases.date = i18n.formatDate("2025-03-01");
const bold = new Node();
cases.parts = i18n.tParts("join.as", { name: bold }).map((p) => (p === bold ? "<node>" : p));
const seen = [];
i18n.onLanguageChange((code) => seen.push(code));
i18n.setLanguage("en");
cases.switched = i18n.language();
cases.switchedLang = document.documentElement.lang;
cases.stored = store.get("cc.language");
cases.afterReload = i18n.initLanguage(); // a stored choice wins over the browser's German
cases.heard = seen;
cases.english = i18n.t("meeting.repeat.weekly", { count: 1 });
cases.unknownKey = i18n.t("no.such.key");
process.stdout.write(JSON.stringify(out));
