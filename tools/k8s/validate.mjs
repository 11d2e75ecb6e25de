// Validates Kubernetes manifests offline against the schemas of the API server's types
// (kubernetes-models) and of the Strimzi and CloudNativePG custom resources (their CRDs'
// OpenAPI schemas, packaged by kubernetes-models). Usage: node validate.mjs FILE.yaml...
// Prints "valid <kind> <name>" per document; exits 1 on any invalid or unknown document.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const CUSTOM = {
  "kafka.strimzi.io": "@kubernetes-models/strimzi-kafka-operator",
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
};

async function modelOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const base = CUSTOM[group] ?? "kubernetes-models";
  const path = group === "" ? `${base}/${version}/${kind}` : `${base}/${group}/${version}/${kind}`;
  const module = await import(path);
  return module[kind];
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  for (const document of documents) {
    if (document.errors.length > 0) {
      console.log(`error: ${file}: ${document.errors[0].message}`);
      failed = true;
      continue;
    }
    const manifest = document.toJS();
    if (manifest === null) continue;
    const where = `${file}: ${manifest.kind} ${manifest.metadata?.name}`;
    let Model;
    try {
      Model = await modelOf(manifest.apiVersion, manifest.kind);
    } catch {
      console.log(`error: ${where}: no schema for ${manifest.apiVersion} ${manifest.kind}`);
      failed = true;
      continue;
    }
    try {
      new Model(manifest).validate();
      console.log(`valid ${manifest.kind} ${manifest.metadata?.name}`);
    } catch (error) {
      console.log(`error: ${where}: ${error.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
