// The Renovate preset examples/renovate.json, run the way Renovate's regex manager runs it:
// managerFilePatterns select files, each matchString is compiled as `new RegExp(s, 'g')` and run
// with matchAll over the whole file (named groups datasource/depName/currentValue/versioning), and
// an update replaces every occurrence of currentValue inside the match (match[0], Renovate's
// replaceString) with the new version, then re-extracts to confirm (Renovate's doAutoReplace and
// confirmIfDepVersionUpdated). Renovate compiles with RE2 when it can, so the patterns must also
// stay inside RE2's syntax (no lookaround, no backreferences).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const root = process.env.SU_SOURCE_DIR || path.resolve(import.meta.dirname, '../../..');
const preset = JSON.parse(fs.readFileSync(path.join(root, 'examples/renovate.json'), 'utf8'));
const managers = preset.customManagers.filter((m) => m.customType === 'regex');

// What each example manifest must yield: exactly these dependencies, nothing elsewhere.
const expected = {
  'examples/manifests/kratos.yaml': [{ depName: 'oryd/kratos', currentValue: 'v1.2.0', image: true }],
  'examples/manifests/athena.yaml': [{ depName: 'ghcr.io/example/athena', currentValue: '2.4.0', image: true }],
  'manifests/examples/kratos.yaml': [{ depName: 'oryd/kratos', currentValue: 'v1.2.0', image: true }],
  'manifests/examples/hydra.yaml': [{ depName: 'oryd/hydra', currentValue: 'v2.2.0', image: true }],
  'manifests/examples/athena.yaml': [{ depName: 'ghcr.io/example/athena', currentValue: 'v0.9.0', image: false }],
  'examples/kubernetes/olympus/upgrades/kratos.yaml': [{ depName: 'oryd/kratos', currentValue: 'v1.2.0', image: false }],
  'examples/kubernetes/olympus/upgrades/hydra.yaml': [{ depName: 'oryd/hydra', currentValue: 'v2.3.0', image: false }],
  'examples/kubernetes/olympus/upgrades/athena.yaml': [{ depName: 'olympus/athena', currentValue: 'v1.1.0', image: false }],
};

// Renovate's managerFilePatterns: "/regex/" is a regular expression, anything else a glob (we
// ship only regexes).
function fileRegex(p) {
  const m = /^\/(.*)\/([a-z]*)$/.exec(p);
  assert.ok(m, `managerFilePatterns entry ${p} is not a /regex/`);
  return new RegExp(m[1], m[2]);
}

function yamlFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(rel));
    else out.push(rel);
  }
  return out;
}

function extract(manager, content) {
  const deps = [];
  for (const s of manager.matchStrings) {
    for (const m of content.matchAll(new RegExp(s, 'g'))) {
      deps.push({ ...m.groups, replaceString: m[0], index: m.index });
    }
  }
  return deps;
}

function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

// Renovate's doAutoReplace for a regex-manager dependency (no autoReplaceStringTemplate).
function autoReplace(content, dep, newValue) {
  const newString = dep.replaceString.replace(new RegExp(escapeRegExp(dep.currentValue), 'g'), newValue);
  const at = content.indexOf(dep.replaceString);
  assert.notEqual(at, -1);
  return content.slice(0, at) + newString + content.slice(at + dep.replaceString.length);
}

function selected(manager) {
  const res = manager.managerFilePatterns.map(fileRegex);
  return ['examples', 'manifests'].flatMap(yamlFiles).filter((f) => res.some((r) => r.test(f)));
}

test('the preset is a regex custom manager with RE2-compatible patterns', () => {
  assert.equal(managers.length, 1);
  for (const s of managers[0].matchStrings) {
    for (const bad of ['(?=', '(?!', '(?<=', '(?<!', '\\k<', '\\1']) {
      assert.ok(!s.includes(bad), `pattern uses ${bad}, which RE2 (Renovate's engine) does not support`);
    }
    for (const g of ['datasource', 'depName', 'currentValue']) assert.ok(s.includes(`(?<${g}>`), `no ${g} group`);
    assert.doesNotThrow(() => new RegExp(s, 'g'));
  }
});

test('it finds exactly the intended fields in the example manifests', () => {
  const files = selected(managers[0]);
  for (const f of Object.keys(expected)) assert.ok(files.includes(f), `${f} not selected by managerFilePatterns`);
  const found = {};
  for (const f of files) {
    const deps = extract(managers[0], fs.readFileSync(path.join(root, f), 'utf8'));
    if (deps.length) found[f] = deps;
  }
  assert.deepEqual(Object.keys(found).sort(), Object.keys(expected).sort());
  for (const [f, want] of Object.entries(expected)) {
    const got = found[f];
    assert.equal(got.length, want.length, f);
    for (let i = 0; i < want.length; i++) {
      assert.equal(got[i].datasource, 'docker', f);
      assert.equal(got[i].depName, want[i].depName, f);
      assert.equal(got[i].currentValue, want[i].currentValue, f);
      assert.equal(/\n\s*image:/.test(got[i].replaceString), want[i].image, `${f}: image line in the match`);
    }
  }
});

test('a bump moves targetVersion and the image together and changes nothing else', () => {
  for (const [f, [want]] of Object.entries(expected)) {
    const before = fs.readFileSync(path.join(root, f), 'utf8');
    const [dep] = extract(managers[0], before);
    const newValue = dep.currentValue.startsWith('v') ? 'v9.8.7' : '9.8.7';
    const after = autoReplace(before, dep, newValue);
    const a = before.split('\n'), b = after.split('\n');
    assert.equal(a.length, b.length, f);
    const changed = a.map((l, i) => (l === b[i] ? null : i)).filter((i) => i !== null);
    const tv = a.findIndex((l) => /^\s*targetVersion:/.test(l));
    const img = a.findIndex((l) => /^\s*image:/.test(l));
    assert.deepEqual(changed, want.image ? [tv, img] : [tv], `${f}: changed lines`);
    assert.equal(b[tv], a[tv].replace(dep.currentValue, newValue));
    if (want.image) assert.match(b[img], new RegExp(`^\\s*image: ${escapeRegExp(dep.depName)}:${escapeRegExp(newValue)}$`));
    // Renovate re-extracts and checks that the dependency now has the new value.
    const [again] = extract(managers[0], after);
    assert.equal(again.depName, dep.depName);
    assert.equal(again.currentValue, newValue);
  }
});

test('lines without the convention are left alone', () => {
  const m = managers[0];
  const cases = [
    'spec:\n  targetVersion: v1.2.0\n  image: oryd/kratos:v1.2.0\n',                       // no comment
    'spec:\n  # renovate: datasource=docker depName=oryd/kratos\n  image: oryd/kratos:v1.2.0\n', // not above targetVersion
    'spec:\n  # renovate: datasource=docker depName=oryd/kratos\n\n  targetVersion: v1.2.0\n',  // a blank line between
    'services:\n  kratos:\n    # renovate: datasource=docker depName=oryd/kratos\n    image: oryd/kratos:v1.2.0\n',
  ];
  for (const c of cases) assert.deepEqual(extract(m, c), [], c);
  // Quoted values and an explicit versioning are understood.
  const [d] = extract(m, '  # renovate: datasource=docker depName=oryd/kratos versioning=semver\n  targetVersion: "v1.3.0"\n  image: "oryd/kratos:v1.3.0"\n');
  assert.equal(d.currentValue, 'v1.3.0');
  assert.equal(d.versioning, 'semver');
});
