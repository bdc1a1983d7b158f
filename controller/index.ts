/**
 * controller/ — the intent schema and compiler (inventory + intent → one signed bundle per edge), and
 * later the version store, promotion workflows, the edge API and analytics. The `patronus` CLI lives in
 * controller/cli/.
 */
export {};
