#!/usr/bin/env python3
"""Checks the Kubernetes manifests in scripts/k8s without a cluster.

Usage: k8s_check.py --manifests DIR --coordinator BIN --worker BIN
                    [--schema FILE] [--self-test]

Reads every YAML file in DIR (PyYAML when it is installed, else a small
parser for the subset of YAML the manifests use; with both, they must agree)
and checks:
  - each object (and each Secret or ConfigMap that kustomization.yaml
    generates) against a vendored minimal schema of its apiVersion and kind
    (k8s_schema.json): required fields, types, enums, no unknown fields;
  - kustomization.yaml: every listed file exists and every manifest is
    listed; the images it maps cover the containers' images;
  - references: each volume's ConfigMap, Secret or PersistentVolumeClaim
    exists, as do the keys it selects; each volumeMount names a volume;
    selectors match their pod templates;
  - the containers' command lines: hpo-coordinator and hpo-worker get only
    flags their --help lists (the real binaries are run), with values where
    they take one; every file or directory they name lies on a volume that
    holds it (the study in a ConfigMap, keys in Secrets, the database on a
    ReadWriteOnce claim, data and checkpoints on a ReadWriteMany claim when
    several workers share them); secret key files are mounted with a mode
    that hpo accepts (no group or other bits, no fsGroup);
  - the coordinator: one replica, Recreate, a start command that adds
    --resume when the database holds the study, a --bind on every interface
    whose port is a containerPort, CurveZMQ keys; the study in its ConfigMap
    passes hpo-coordinator --plan;
  - the workers: --connect names the coordinator's Service (by its DNS
    name) and one of its ports, whose targetPort reaches the coordinator's
    --bind port, and the Service selects the coordinator's pods only;
    --exit-when-done; one nvidia.com/gpu per pod with --device cuda:0; the
    key pair and server key that match the coordinator's (for generated
    Secrets, the same hpo-keygen files).
--self-test then breaks the manifests in memory in each of these ways, one
at a time, and requires the check to report each. Exit 0 when all is well,
1 otherwise, 2 on bad usage.
"""

import argparse
import copy
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------
# YAML: the subset the manifests use (block mappings and sequences, plain
# and quoted scalars, literal block scalars, flow sequences of scalars,
# comments, several documents), resolved as PyYAML (YAML 1.1) resolves it.


class YamlError(Exception):
    pass


_KEY = re.compile(
    r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s'"\[\]{}#,:&*!|>%@`-][^:#]*?"""
    r"""|-[^\s:#][^:#]*?)\s*:(?:\s+|$)(.*)$""")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_HEX = re.compile(r"^[-+]?0x[0-9a-fA-F_]+$")
_SEXAGESIMAL = re.compile(r"^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+][0-9]+)?$")
_BOOLS = {
    "yes": True, "Yes": True, "YES": True, "true": True, "True": True,
    "TRUE": True, "on": True, "On": True, "ON": True,
    "no": False, "No": False, "NO": False, "false": False, "False": False,
    "FALSE": False, "off": False, "Off": False, "OFF": False,
}


def _strip_comment(line):
    """The line without a trailing comment (a # after a space, unquoted)."""
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = None
        elif quote == "'":
            if ch == "'":
                quote = None
        elif ch in "\"'" and (i == 0 or line[i - 1] in " [,"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
        i += 1
    return line.rstrip()


def _scalar(text, where):
    if text.startswith('"'):
        m = re.match(r'^"((?:[^"\\]|\\.)*)"$', text)
        if not m:
            raise YamlError(f"{where}: unterminated or trailing text after a double-quoted string")
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "0": "\0"}
        return re.sub(r"\\(.)", lambda e: escapes.get(e.group(1), "\\" + e.group(1)), m.group(1))
    if text.startswith("'"):
        m = re.match(r"^'((?:[^']|'')*)'$", text)
        if not m:
            raise YamlError(f"{where}: unterminated or trailing text after a single-quoted string")
        return m.group(1).replace("''", "'")
    if text.startswith("["):
        if not text.endswith("]"):
            raise YamlError(f"{where}: a flow sequence must end on its line")
        inner = text[1:-1].strip()
        if not inner:
            return []
        items, current, quote = [], "", None
        for ch in inner:
            if quote:
                quote = None if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch in "[]{}":
                raise YamlError(f"{where}: nested flow collections are not supported")
            elif ch == ",":
                items.append(current.strip())
                current = ""
                continue
            current += ch
        items.append(current.strip())
        return [_scalar(item, where) for item in items]
    if text.startswith("{"):
        if text == "{}":
            return {}
        raise YamlError(f"{where}: flow mappings other than {{}} are not supported")
    if text[0] in "&*!|>%@`":
        raise YamlError(f"{where}: {text[0]!r} (anchors, tags, folded scalars) is not supported")
    if re.search(r":(\s|$)", text):
        raise YamlError(f"{where}: ': ' in a plain scalar; quote it")
    if text in ("~", "null", "Null", "NULL"):
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _OCTAL.match(text):
        return int(text.replace("_", ""), 8)
    if _HEX.match(text):
        return int(text.replace("_", ""), 16)
    if _SEXAGESIMAL.match(text):
        sign = -1 if text.startswith("-") else 1
        value = 0
        for part in text.lstrip("+-").replace("_", "").split(":"):
            value = value * 60 + int(part)
        return sign * value
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text.replace("_", ""))
    return text


class _MiniYaml:
    def __init__(self, lines, path, first_line):
        self.raw = lines
        self.path = path
        self.first = first_line
        self.override = {}

    def where(self, i):
        return f"{self.path}:{self.first + i}"

    def info(self, i):
        if i in self.override:
            return self.override[i]
        text = _strip_comment(self.raw[i])
        if "\t" in text[: len(text) - len(text.lstrip())]:
            raise YamlError(f"{self.where(i)}: a tab in the indentation")
        indent = len(text) - len(text.lstrip(" "))
        return indent, text[indent:]

    def content(self, i):
        while i < len(self.raw) and not self.info(i)[1]:
            i += 1
        return i

    @staticmethod
    def is_item(text):
        return text == "-" or text.startswith("- ")

    def node(self, i, indent):
        i = self.content(i)
        if i >= len(self.raw):
            return None, i
        ind, text = self.info(i)
        if ind < indent:
            return None, i
        if self.is_item(text):
            return self.sequence(i, ind)
        if _KEY.match(text):
            return self.mapping(i, ind)
        value = _scalar(text, self.where(i))
        j = self.content(i + 1)
        if j < len(self.raw) and self.info(j)[0] > ind:
            raise YamlError(f"{self.where(j)}: multi-line plain scalars are not supported")
        return value, i + 1

    def value_after(self, i, indent, rest):
        """The value of a key or item at line i whose text after ':' or '-'
        is rest, and the next line's index."""
        if rest == "":
            j = self.content(i + 1)
            if j < len(self.raw):
                jind, jtext = self.info(j)
                if jind > indent:
                    return self.node(j, jind)
                if jind == indent and self.is_item(jtext):
                    return self.sequence(j, indent)
            return None, i + 1
        if rest[0] in "|>":
            return self.block(i, indent, rest)
        return _scalar(rest, self.where(i)), i + 1

    def mapping(self, i, indent):
        result = {}
        while True:
            i = self.content(i)
            if i >= len(self.raw):
                break
            ind, text = self.info(i)
            if ind < indent or (ind == indent and self.is_item(text)):
                break
            if ind > indent:
                raise YamlError(f"{self.where(i)}: unexpected indentation")
            m = _KEY.match(text)
            if not m:
                raise YamlError(f"{self.where(i)}: expected KEY: VALUE, got {text!r}")
            key = _scalar(m.group(1), self.where(i))
            if key in result:
                raise YamlError(f"{self.where(i)}: duplicate key {key!r}")
            rest = m.group(2).strip()
            value, next_i = self.value_after(i, indent, rest)
            # An indentless sequence under this key ends at a key of ours.
            result[key] = value
            i = next_i
        return result, i

    def sequence(self, i, indent):
        result = []
        while True:
            i = self.content(i)
            if i >= len(self.raw):
                break
            ind, text = self.info(i)
            if ind < indent or not self.is_item(text):
                if ind > indent:
                    raise YamlError(f"{self.where(i)}: unexpected indentation")
                break
            if ind > indent:
                raise YamlError(f"{self.where(i)}: unexpected indentation")
            rest = text[1:].lstrip(" ")
            offset = len(text) - len(rest)
            if rest and (self.is_item(rest) or _KEY.match(rest)):
                self.override[i] = (indent + offset, rest)
                value, i = self.node(i, indent + offset)
            else:
                value, i = self.value_after(i, indent, rest)
            result.append(value)
        return result, i

    def block(self, i, indent, header):
        if header not in ("|", "|-", "|+"):
            raise YamlError(f"{self.where(i)}: block scalar {header!r} is not supported (use |, |- or |+)")
        j = i + 1
        lines = []
        block_indent = None
        while j < len(self.raw):
            line = self.raw[j].rstrip("\n")
            if line.strip() == "":
                lines.append("")
                j += 1
                continue
            ind = len(line) - len(line.lstrip(" "))
            if block_indent is None:
                if ind <= indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            lines.append(line[block_indent:])
            j += 1
        trailing = 0
        while lines and lines[-1] == "":
            lines.pop()
            trailing += 1
        text = "\n".join(lines)
        if header == "|" and lines:
            text += "\n"
        elif header == "|+":
            text += "\n" * (1 + trailing) if lines else "\n" * trailing
        return text, j


def mini_yaml_load_all(text, path):
    docs = []
    lines = text.split("\n")
    start = 0
    chunks = []
    for n, line in enumerate(lines):
        if re.match(r"^---\s*(#.*)?$", line):
            chunks.append((start, lines[start:n]))
            start = n + 1
        elif line.startswith("--- ") or line.startswith("..."):
            raise YamlError(f"{path}:{n + 1}: content after --- or ... is not supported")
    chunks.append((start, lines[start:]))
    for first, chunk in chunks:
        parser = _MiniYaml(chunk, path, first + 1)
        i = parser.content(0)
        if i >= len(chunk):
            continue
        value, i = parser.node(0, 0)
        i = parser.content(i)
        if i < len(chunk):
            raise YamlError(f"{parser.where(i)}: unexpected text {parser.info(i)[1]!r}")
        if value is not None:
            docs.append(value)
    return docs


def load_yaml(path):
    """The documents of a YAML file; raises YamlError."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = mini_yaml_load_all(text, path)
    try:
        import yaml  # PyYAML, when installed: the two readings must agree.
    except ImportError:
        if os.environ.get("HPO_REQUIRE_ALL", "0") not in ("", "0"):
            raise YamlError(
                f"{path}: PyYAML is not installed, and HPO_REQUIRE_ALL=1 forbids "
                "checking without it (scripts/install-deps.sh --tests installs "
                "python3-yaml)")
        return docs
    try:
        reference = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise YamlError(f"{path}: {e}")
    if reference != docs:
        raise YamlError(
            f"{path}: this checker's YAML reader and PyYAML read the file differently; "
            "write it in the plain subset the others use (or fix the reader)")
    return reference


# --------------------------------------------------------------------------
# Schema: a subset of JSON Schema (see k8s_schema.json).

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?$")


def _type_ok(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    raise ValueError(f"schema: unknown type {name}")


def validate(value, schema, root, path, errors):
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root["definitions"][name]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {', '.join(map(repr, schema['enum']))}")
        return
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {type(value).__name__} {value!r}")
            return
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: must not be empty")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: {value!r} is longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    fmt = schema.get("format")
    if fmt == "dns1123-label" and isinstance(value, str) and (
            not _DNS_LABEL.match(value) or len(value) > 63):
        errors.append(f"{path}: {value!r} is not a DNS label (lower-case letters, digits, '-'; at most 63)")
    if fmt == "dns1123-subdomain" and isinstance(value, str) and (
            not _DNS_SUBDOMAIN.match(value) or len(value) > 253):
        errors.append(f"{path}: {value!r} is not a DNS subdomain name")
    if fmt == "quantity" and not _QUANTITY.match(str(value)):
        errors.append(f"{path}: {value!r} is not a quantity (e.g. 500m, 4, 16Gi)")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: needs at least {schema['minItems']} item(s)")
        if "items" in schema:
            for n, item in enumerate(value):
                validate(item, schema["items"], root, f"{path}[{n}]", errors)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: required field {key!r} is missing")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                validate(item, props[key], root, f"{path}.{key}", errors)
            elif extra is False:
                hint = difflib.get_close_matches(str(key), list(props), 1)
                errors.append(f"{path}: unknown field {key!r}" +
                              (f" (did you mean {hint[0]!r}?)" if hint else
                               " (not in the vendored schema; add it there if Kubernetes has it)"))
            elif isinstance(extra, dict):
                validate(item, extra, root, f"{path}.{key}", errors)


# --------------------------------------------------------------------------
# The manifests.


class Resource:
    def __init__(self, doc, source, generated_from=None):
        self.doc = doc
        self.source = source
        # For a generated Secret or ConfigMap: key -> file it is made from.
        self.generated_from = generated_from

    @property
    def kind(self):
        return self.doc.get("kind") if isinstance(self.doc, dict) else None

    @property
    def name(self):
        meta = self.doc.get("metadata") if isinstance(self.doc, dict) else None
        return meta.get("name") if isinstance(meta, dict) else None

    def label(self):
        return f"{self.source}: {self.kind}/{self.name}"


def load_manifests(directory):
    """(resources, kustomization or None, errors)."""
    resources, errors = [], []
    kustomization = None
    for name in sorted(os.listdir(directory)):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(directory, name)
        try:
            docs = load_yaml(path)
        except (YamlError, OSError) as e:
            errors.append(str(e))
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "Kustomization":
                kustomization = (name, doc)
            else:
                resources.append(Resource(doc, name))
    return resources, kustomization, errors


def generator_files(entry):
    """key -> path of a kustomize generator's files: entries."""
    out = {}
    for item in entry.get("files", []) or []:
        key, sep, path = item.partition("=")
        if not sep:
            key, path = os.path.basename(item), item
        out[key] = path
    return out


class Checker:
    def __init__(self, directory, resources, kustomization, schema, flags, coordinator_bin):
        self.dir = directory
        self.resources = resources
        self.kustomization = kustomization
        self.schema = schema
        self.flags = flags
        self.coordinator_bin = coordinator_bin
        self.errors = []
        self.checked = 0

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    def ok(self):
        self.checked += 1

    # ---- lookups
    def find(self, kind, name):
        return next((r for r in self.resources if r.kind == kind and r.name == name), None)

    def workloads(self):
        return [r for r in self.resources if r.kind in ("Deployment", "StatefulSet", "Job")]

    @staticmethod
    def pod(r):
        return r.doc["spec"]["template"]

    @staticmethod
    def pod_labels(r):
        return (Checker.pod(r).get("metadata") or {}).get("labels") or {}

    @staticmethod
    def count(r):
        spec = r.doc["spec"]
        if r.kind == "Job":
            return spec.get("parallelism", 1)
        return spec.get("replicas", 1)

    def data_keys(self, r):
        if r.generated_from is not None:
            return set(r.generated_from)
        return set((r.doc.get("data") or {}).keys()) | set((r.doc.get("stringData") or {}).keys())

    # ---- the checks
    def run(self):
        self.check_kustomization()
        self.check_schema()
        if self.errors:
            return self.errors  # the rest assumes well-formed objects
        self.check_names()
        for r in self.workloads():
            self.check_workload(r)
        self.check_hpo()
        return self.errors

    def check_kustomization(self):
        if self.kustomization is None:
            self.error(self.dir, "no kustomization.yaml")
            return
        source, k = self.kustomization
        errors = []
        validate(k, self.schema["kinds"]["kustomize.config.k8s.io/v1beta1/Kustomization"],
                 self.schema, source, errors)
        for e in errors:
            self.error(source, e)
        if errors:
            return
        listed = set(k.get("resources", []))
        for item in sorted(listed):
            if not os.path.isfile(os.path.join(self.dir, item)):
                self.error(source, f"resources: {item} does not exist")
        for r in self.resources:
            if r.source not in listed:
                self.error(source, f"{r.source} is not in resources, so kubectl apply -k leaves it out")
        self.ok()
        options = k.get("generatorOptions") or {}
        for kind, key in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
            for entry in k.get(key, []) or []:
                files = generator_files(entry)
                for path in files.values():
                    # Key files are made by make-keys.sh and never committed.
                    if kind == "ConfigMap" and not os.path.isfile(os.path.join(self.dir, path)):
                        self.error(source, f"{key} {entry['name']}: {path} does not exist")
                literals = {l.partition("=")[0]: None for l in entry.get("literals", []) or []}
                doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": entry["name"]},
                       "data": {name: "(generated)" for name in list(files) + list(literals)}}
                if kind == "Secret":
                    doc["type"] = entry.get("type", "Opaque")
                if not options.get("disableNameSuffixHash"):
                    self.error(source, f"{key} {entry['name']}: set generatorOptions.disableNameSuffixHash: "
                               "true, or the name the volumes use gets a hash suffix")
                self.resources.append(Resource(doc, f"{source} {key}", dict(files, **literals)))
        mapped = {image.get("name") for image in k.get("images", []) or []}
        if mapped:
            for r in self.workloads():
                for c in self.pod(r)["spec"]["containers"]:
                    name = re.sub(r"[:@].*$", "", c.get("image", ""))
                    if name not in mapped:
                        self.error(r.label(), f"container {c.get('name')}: image {name} is not in "
                                   f"{source}'s images, so it cannot be pointed at a registry")
            self.ok()

    def check_schema(self):
        for r in self.resources:
            if not isinstance(r.doc, dict):
                self.error(r.source, "a document that is not a mapping")
                continue
            key = f"{r.doc.get('apiVersion')}/{r.doc.get('kind')}"
            schema = self.schema["kinds"].get(key)
            if schema is None:
                self.error(r.source, f"unknown apiVersion/kind {key}; known: {', '.join(self.schema['kinds'])}")
                continue
            errors = []
            validate(r.doc, schema, self.schema, r.kind or "?", errors)
            for e in errors:
                self.error(r.label(), e)
            self.ok()

    def check_names(self):
        seen = {}
        for r in self.resources:
            key = (r.kind, r.name)
            if key in seen:
                self.error(r.label(), f"the same name as in {seen[key]}")
            seen[key] = r.source
        self.ok()

    def check_workload(self, r):
        spec = r.doc["spec"]
        pod = self.pod(r)
        labels = self.pod_labels(r)
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        if r.kind in ("Deployment", "StatefulSet") and not selector:
            self.error(r.label(), "spec.selector.matchLabels is empty")
        for key, value in selector.items():
            if labels.get(key) != value:
                self.error(r.label(), f"spec.selector.matchLabels {key}={value} does not match the pod template's labels")
        policy = pod["spec"].get("restartPolicy", "Always")
        if r.kind == "Job" and policy not in ("OnFailure", "Never"):
            self.error(r.label(), "a Job's pods need restartPolicy OnFailure or Never")
        if r.kind != "Job" and policy != "Always":
            self.error(r.label(), f"a {r.kind}'s pods need restartPolicy Always")
        self.ok()

        volumes = {}
        for v in pod["spec"].get("volumes", []) or []:
            if v["name"] in volumes:
                self.error(r.label(), f"two volumes named {v['name']}")
            volumes[v["name"]] = v
            sources = [k for k in v if k != "name"]
            if len(sources) != 1:
                self.error(r.label(), f"volume {v['name']}: needs exactly one source, has {sources or 'none'}")
                continue
            kind, ref, name = {
                "configMap": ("ConfigMap", v.get("configMap"), "name"),
                "secret": ("Secret", v.get("secret"), "secretName"),
                "persistentVolumeClaim": ("PersistentVolumeClaim", v.get("persistentVolumeClaim"), "claimName"),
            }.get(sources[0], (None, None, None))
            if kind is None:
                continue
            target = self.find(kind, ref[name])
            if target is None and kind == "PersistentVolumeClaim" and r.kind == "StatefulSet":
                target = next((t for t in spec.get("volumeClaimTemplates", []) if t["metadata"]["name"] == ref[name]), None)
            if target is None:
                self.error(r.label(), f"volume {v['name']}: no {kind} named {ref[name]} in the manifests")
                continue
            if kind in ("ConfigMap", "Secret"):
                keys = self.data_keys(target)
                for item in ref.get("items", []) or []:
                    if item["key"] not in keys:
                        self.error(r.label(), f"volume {v['name']}: {kind} {ref[name]} has no key {item['key']}")
            self.ok()
        secret_keys = [v for v in volumes.values() if "secret" in v and self.holds_secret_key(v)]
        if secret_keys and (pod["spec"].get("securityContext") or {}).get("fsGroup") is not None:
            self.error(r.label(), "securityContext.fsGroup makes the mounted key files group-readable, "
                       "and hpo refuses a secret key that group or others may read: remove fsGroup")
        for v in secret_keys:
            modes = [v["secret"].get("defaultMode", 0o644)] + [
                i["mode"] for i in v["secret"].get("items", []) or [] if "mode" in i]
            for mode in modes:
                if mode & 0o077:
                    self.error(r.label(), f"volume {v['name']}: mode {mode:04o} lets group or others read the "
                               "secret key, and hpo refuses such a key file: use defaultMode: 0400")
        self.ok()
        for c in pod["spec"]["containers"] + (pod["spec"].get("initContainers") or []):
            paths = set()
            for m in c.get("volumeMounts", []) or []:
                if m["name"] not in volumes:
                    self.error(r.label(), f"container {c['name']}: volumeMount {m['name']} names no volume of the pod")
                if m["mountPath"] in paths:
                    self.error(r.label(), f"container {c['name']}: two mounts at {m['mountPath']}")
                paths.add(m["mountPath"])
            self.ok()

    def holds_secret_key(self, volume):
        target = self.find("Secret", volume["secret"]["secretName"])
        return target is not None and any(k.endswith(".key") for k in self.data_keys(target))

    # ---- hpo's command lines
    def program(self, c):
        """(program, flag tokens, start script or None) of a container."""
        command = c.get("command") or []
        argv = list(command) + list(c.get("args") or [])
        if not command:
            return None, argv, None
        base = os.path.basename(argv[0])
        if base in ("hpo-coordinator", "hpo-worker"):
            return base, argv[1:], None
        if base in ("sh", "bash", "dash") and len(argv) >= 3 and argv[1] == "-c":
            found = set(re.findall(r'(hpo-coordinator|hpo-worker)\s+"\$@"', argv[2]))
            if len(found) == 1:
                return found.pop(), argv[4:], argv[2]
        return None, argv, None

    def parse_flags(self, where, program, tokens):
        known = self.flags[program]
        values = {}
        i = 0
        while i < len(tokens):
            token = tokens[i]
            i += 1
            if not token.startswith("--"):
                self.error(where, f"{program}: stray argument {token!r} (it takes no positional arguments)")
                continue
            name, eq, value = token[2:].partition("=")
            if name not in known:
                hint = difflib.get_close_matches(name, list(known), 1)
                self.error(where, f"{program}: unknown flag --{name}" +
                           (f" (did you mean --{hint[0]}?)" if hint else "") +
                           f"; {program} --help lists " + ", ".join("--" + f for f in sorted(known)))
                continue
            if known[name]:
                if not eq:
                    if i >= len(tokens) or tokens[i].startswith("--"):
                        self.error(where, f"{program}: --{name} needs a value")
                        continue
                    value = tokens[i]
                    i += 1
            elif eq:
                self.error(where, f"{program}: --{name} takes no value")
            if name in values:
                self.error(where, f"{program}: --{name} given twice")
            values[name] = value if known[name] else True
        self.ok()
        return values

    def locate(self, where, r, c, path, flag):
        """(volume, key or '' for the mount's root, resource or None) of a
        path a flag names, or None after an error."""
        best = None
        for m in c.get("volumeMounts", []) or []:
            mount = m["mountPath"].rstrip("/") or "/"
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                if best is None or len(mount) > len(best[0]):
                    best = (mount, m)
        if best is None:
            self.error(where, f"{flag} {path}: on no volume of container {c['name']} "
                       "(the image holds no data, study, keys or results)")
            return None
        mount, m = best
        rel = path[len(mount):].lstrip("/")
        if m.get("subPath"):
            rel = m["subPath"].rstrip("/") + ("/" + rel if rel else "")
        volume = next((v for v in self.pod(r)["spec"].get("volumes", []) or [] if v["name"] == m["name"]), None)
        if volume is None:
            return None  # reported with the mount
        target = None
        if "configMap" in volume or "secret" in volume:
            kind = "ConfigMap" if "configMap" in volume else "Secret"
            ref = volume.get("configMap") or volume.get("secret")
            target = self.find(kind, ref.get("name") or ref.get("secretName"))
            if target is None:
                return None  # reported with the volume
            files = {i["path"]: i["key"] for i in ref.get("items", []) or []} if ref.get("items") else {
                k: k for k in self.data_keys(target)}
            if rel and rel not in files:
                self.error(where, f"{flag} {path}: {kind} {target.name} mounted at {mount} has no file {rel} "
                           f"(it has {', '.join(sorted(files)) or 'none'})")
                return None
            rel = files.get(rel, "")
        elif "persistentVolumeClaim" in volume:
            target = self.find("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
            if target is None:
                return None  # reported with the volume
        return volume, rel, target, m

    def check_hpo(self):
        coordinators, workers = [], []
        for r in self.workloads():
            for c in self.pod(r)["spec"]["containers"]:
                program, tokens, script = self.program(c)
                where = f"{r.label()} container {c['name']}"
                if program is None:
                    self.error(where, "runs neither hpo-coordinator nor hpo-worker (set command to the binary, "
                               "or sh -c SCRIPT NAME with the script running the binary with \"$@\")")
                    continue
                flags = self.parse_flags(where, program, tokens)
                (coordinators if program == "hpo-coordinator" else workers).append((r, c, flags, script, where))
        if len(coordinators) != 1:
            self.error(self.dir, f"{len(coordinators)} containers run hpo-coordinator; one must")
            return
        if not workers:
            self.error(self.dir, "no container runs hpo-worker")
            return
        coordinator = self.check_coordinator(*coordinators[0])
        for w in workers:
            self.check_worker(coordinator, *w)

    def check_coordinator(self, r, c, flags, script, where):
        info = {"r": r, "c": c, "flags": flags, "port": None, "key_source": None, "authorized": None}
        if r.kind != "Deployment" and r.kind != "StatefulSet":
            self.error(where, f"the coordinator runs in a {r.kind}; use a Deployment (or StatefulSet)")
        if self.count(r) != 1:
            self.error(where, f"{self.count(r)} replicas: SQLite has one writer, the coordinator must have 1")
        if r.kind == "Deployment" and (r.doc["spec"].get("strategy") or {}).get("type") != "Recreate":
            self.error(where, "strategy must be Recreate: a rolling update would run two coordinators on one database")
        self.ok()
        for flag in ("resume", "plan"):
            if flag in flags:
                self.error(where, f"--{flag} in args: the start command decides --resume itself; "
                           "--plan would only print the schedule")
        if script is None or "hpo-query" not in script or "--resume" not in script:
            self.error(where, "the start command must add --resume when the database holds the study "
                       "(sh -c with hpo-query ... studies --format json), or a restarted pod fails: "
                       "\"study already exists\"")
        self.ok()
        for flag in ("study", "db", "bind"):
            if flag not in flags:
                self.error(where, f"--{flag} is missing")
        if "study" in flags:
            found = self.locate(where, r, c, flags["study"], "--study")
            if found:
                volume, key, target, _ = found
                if "configMap" not in volume or not key:
                    self.error(where, f"--study {flags['study']}: must be a file of a ConfigMap volume")
                else:
                    self.check_study(where, target, key)
        if "db" in flags:
            found = self.locate(where, r, c, os.path.dirname(flags["db"]) or "/", "--db")
            if found:
                volume, _, target, mount = found
                if "persistentVolumeClaim" not in volume:
                    self.error(where, f"--db {flags['db']}: not on a PersistentVolumeClaim; the results would "
                               "be lost with the pod")
                elif mount.get("readOnly"):
                    self.error(where, f"--db {flags['db']}: the volume is mounted read-only")
                elif target is not None and "ReadWriteMany" in target.doc["spec"]["accessModes"]:
                    self.error(where, f"--db {flags['db']}: on ReadWriteMany claim {target.name}: SQLite's "
                               "locks need a ReadWriteOnce (block) volume, not a network file system")
        if "bind" in flags:
            m = re.match(r"^tcp://(\*|0\.0\.0\.0|\[::\]):(\d+)$", flags["bind"])
            if not m:
                self.error(where, f"--bind {flags['bind']}: must be tcp://*:PORT (every interface, a fixed "
                           "port), or workers in other pods cannot reach it")
            else:
                info["port"] = int(m.group(2))
                ports = [p["containerPort"] for p in c.get("ports", []) or []]
                if info["port"] not in ports:
                    self.error(where, f"--bind port {info['port']} is not a containerPort ({ports})")
        self.ok()
        if "curve-secret" not in flags:
            self.error(where, "no --curve-secret: bound to every interface without keys, anyone in the "
                       "cluster can join as a worker (README, Security)")
        else:
            if "authorized-workers" not in flags:
                self.error(where, "--curve-secret needs --authorized-workers")
            found = self.locate(where, r, c, flags["curve-secret"], "--curve-secret")
            if found:
                volume, key, target, _ = found
                if "secret" not in volume or not key.endswith(".key"):
                    self.error(where, f"--curve-secret {flags['curve-secret']}: must be a .key file of a Secret")
                elif target.generated_from:
                    info["key_source"] = target.generated_from.get(key)
            if "authorized-workers" in flags:
                found = self.locate(where, r, c, flags["authorized-workers"], "--authorized-workers")
                if found:
                    volume, key, target, _ = found
                    pubs = list(self.data_keys(target))
                    if "secret" not in volume or key:
                        self.error(where, "--authorized-workers must be the mount of a Secret of .pub files")
                    elif not any(k.endswith(".pub") for k in pubs):
                        self.error(where, f"--authorized-workers: Secret {target.name} holds no .pub file")
                    else:
                        info["authorized"] = target
        self.ok()
        # The Service in front of it.
        labels = self.pod_labels(r)
        info["services"] = []
        for s in (x for x in self.resources if x.kind == "Service"):
            selector = s.doc["spec"].get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                info["services"].append(s)
                for other in self.workloads():
                    if other is not r and all(self.pod_labels(other).get(k) == v for k, v in selector.items()):
                        self.error(s.label(), f"its selector also selects the pods of {other.kind}/{other.name}")
        return info

    def check_study(self, where, configmap, key):
        if configmap.generated_from is not None:
            with open(os.path.join(self.dir, configmap.generated_from[key]), encoding="utf-8") as f:
                text = f.read()
        else:
            text = configmap.doc["data"][key]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(text)
        try:
            run = subprocess.run([self.coordinator_bin, "--study", f.name, "--plan"],
                                 capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)
        if run.returncode != 0:
            self.error(where, f"the study in ConfigMap {configmap.name} ({key}) fails hpo-coordinator --plan: "
                       + run.stderr.strip().replace(f.name, key))
        self.ok()

    def check_worker(self, coordinator, r, c, flags, script, where):
        if "connect" not in flags:
            self.error(where, "--connect is missing")
        else:
            m = re.match(r"^tcp://([^:/]+):(\d+)$", flags["connect"])
            if not m:
                self.error(where, f"--connect {flags['connect']}: expected tcp://SERVICE:PORT")
            else:
                self.check_connect(where, coordinator, m.group(1), int(m.group(2)))
        if "exit-when-done" not in flags:
            self.error(where, "no --exit-when-done: the workers would wait for another study forever "
                       "and the Job would never complete")
        self.ok()
        shared = self.count(r) > 1 or r.kind == "Job"
        for flag in ("data", "checkpoints"):
            if flag not in flags:
                if flag == "data":
                    self.error(where, "--data is missing (the shards and checkpoints)")
                continue
            found = self.locate(where, r, c, flags[flag], "--" + flag)
            if not found:
                continue
            volume, _, target, mount = found
            if "persistentVolumeClaim" not in volume:
                self.error(where, f"--{flag} {flags[flag]}: not on a PersistentVolumeClaim shared by the workers")
            elif shared and "ReadWriteMany" not in target.doc["spec"]["accessModes"]:
                self.error(where, f"--{flag} {flags[flag]}: claim {target.name} is not ReadWriteMany, so "
                           "workers in several pods cannot share it")
            elif flag == "checkpoints" and mount.get("readOnly"):
                self.error(where, f"--checkpoints {flags[flag]}: the volume is mounted read-only")
        self.ok()
        resources = c.get("resources") or {}
        gpus = (resources.get("limits") or {}).get("nvidia.com/gpu")
        requested = (resources.get("requests") or {}).get("nvidia.com/gpu")
        device = flags.get("device", "auto")
        if gpus is None:
            self.error(where, "no resources.limits nvidia.com/gpu: the pod gets no GPU")
        else:
            if str(gpus) != "1":
                self.error(where, f"nvidia.com/gpu {gpus}: one worker per GPU, so 1 per pod")
            if requested is not None and str(requested) != str(gpus):
                self.error(where, "requests and limits of nvidia.com/gpu must be equal")
            if device not in ("cuda", "cuda:0", "auto"):
                self.error(where, f"--device {device}: the pod's one GPU is cuda:0")
        self.ok()
        if coordinator["flags"].get("curve-secret"):
            missing = [f for f in ("curve-public", "curve-secret", "server-public") if f not in flags]
            if missing:
                self.error(where, "the coordinator has keys, so the worker needs "
                           + ", ".join("--" + f for f in missing))
                return
            sources = {}
            for flag, suffix in (("curve-public", ".pub"), ("curve-secret", ".key"), ("server-public", ".pub")):
                found = self.locate(where, r, c, flags[flag], "--" + flag)
                if not found:
                    continue
                volume, key, target, _ = found
                if "secret" not in volume or not key.endswith(suffix):
                    self.error(where, f"--{flag} {flags[flag]}: must be a {suffix} file of a Secret")
                elif target.generated_from:
                    sources[flag] = target.generated_from[key]
            stem = lambda p: os.path.splitext(os.path.normpath(p))[0]
            if "curve-public" in sources and "curve-secret" in sources and \
                    stem(sources["curve-public"]) != stem(sources["curve-secret"]):
                self.error(where, f"--curve-public ({sources['curve-public']}) and --curve-secret "
                           f"({sources['curve-secret']}) are not one hpo-keygen pair")
            if "server-public" in sources and coordinator["key_source"] and \
                    stem(sources["server-public"]) != stem(coordinator["key_source"]):
                self.error(where, f"--server-public comes from {sources['server-public']}, the coordinator's "
                           f"key from {coordinator['key_source']}: not the same pair")
            authorized = coordinator["authorized"]
            if "curve-public" in sources and authorized is not None and authorized.generated_from and \
                    os.path.normpath(sources["curve-public"]) not in {
                        os.path.normpath(p) for p in authorized.generated_from.values()}:
                self.error(where, f"the worker's public key {sources['curve-public']} is not in Secret "
                           f"{authorized.name} (--authorized-workers): the coordinator would refuse it")
        self.ok()

    def check_connect(self, where, coordinator, host, port):
        name = host.split(".")[0]
        rest = host.split(".")[1:]
        namespace = (self.kustomization[1].get("namespace") if self.kustomization else None)
        if rest and not (len(rest) >= 1 and (namespace is None or rest[0] == namespace) and
                         rest[1:] in ([], ["svc"], ["svc", "cluster", "local"])):
            self.error(where, f"--connect host {host}: expected SERVICE or SERVICE.NAMESPACE.svc[.cluster.local]")
            return
        service = self.find("Service", name)
        if service is None:
            self.error(where, f"--connect host {host}: no Service named {name} "
                       f"(Services: {', '.join(s.name for s in self.resources if s.kind == 'Service') or 'none'})")
            return
        if service not in coordinator["services"]:
            self.error(where, f"--connect: Service {name} does not select the coordinator's pods")
            return
        ports = service.doc["spec"]["ports"]
        entry = next((p for p in ports if p["port"] == port), None)
        if entry is None:
            self.error(where, f"--connect port {port}: Service {name} has port(s) "
                       f"{', '.join(str(p['port']) for p in ports)}")
            return
        target = entry.get("targetPort", entry["port"])
        if isinstance(target, str):
            named = [p for p in coordinator["c"].get("ports", []) or [] if p.get("name") == target]
            if not named:
                self.error(service.label(), f"targetPort {target}: the coordinator container has no port named so")
                return
            target = named[0]["containerPort"]
        if coordinator["port"] is not None and target != coordinator["port"]:
            self.error(service.label(), f"port {port} leads to {target}, but the coordinator listens on "
                       f"{coordinator['port']} (--bind)")
        self.ok()


def help_flags(binary):
    """flag name -> whether it takes a value, from BINARY --help."""
    run = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        sys.exit(f"k8s_check: {binary} --help failed (exit {run.returncode}): {run.stderr.strip()}")
    flags = {}
    for line in run.stdout.splitlines():
        m = re.match(r"^\s+(?:-\w \[ )?--([a-z][a-z0-9-]*)(?: \])?( arg\b)?", line)
        if m:
            flags[m.group(1)] = bool(m.group(2))
    if "help" not in flags:
        sys.exit(f"k8s_check: cannot read the options from {binary} --help")
    return flags


# --------------------------------------------------------------------------
# The self-test: each way of breaking the manifests must be reported.


def _get(resources, kind, name):
    return next(r.doc for r in resources if r.kind == kind and r.name == name)


def _container(resources, program):
    for r in resources:
        if r.kind in ("Deployment", "StatefulSet", "Job"):
            for c in r.doc["spec"]["template"]["spec"]["containers"]:
                argv = (c.get("command") or []) + (c.get("args") or [])
                if argv and (os.path.basename(argv[0]) == program or (
                        len(argv) > 2 and argv[1] == "-c" and program + ' "$@"' in argv[2])):
                    return r.doc, c
    raise KeyError(program)


def _remove_flag(resources, program, flag):
    args = _container(resources, program)[1]["args"]
    i = args.index(flag)
    del args[i:i + 2]


def _to_empty_dir(volume):
    for key in [k for k in volume if k != "name"]:
        del volume[key]
    volume["emptyDir"] = {}


def _replace_arg(resources, program, old, new):
    _, c = _container(resources, program)
    args = c["args"]
    args[args.index(old)] = new


def _set_arg_value(resources, program, flag, value):
    _, c = _container(resources, program)
    args = c["args"]
    args[args.index(flag) + 1] = value


def _volume(resources, program, name):
    d, _ = _container(resources, program)
    return next(v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == name)


def _secret_volume(resources, program, holding):
    d, c = _container(resources, program)
    for v in d["spec"]["template"]["spec"]["volumes"]:
        if "secret" in v:
            return v
    raise KeyError(holding)


def _mutations():
    co, wo = "hpo-coordinator", "hpo-worker"

    def services(res):
        return [r.doc for r in res if r.kind == "Service"]

    def claim_of(res, program, flag):
        d, c = _container(res, program)
        path = c["args"][c["args"].index(flag) + 1]
        mount = max((m for m in c["volumeMounts"] if path.startswith(m["mountPath"])),
                    key=lambda m: len(m["mountPath"]))
        v = next(v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
        return _get(res, "PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"])

    def study_configmap(res):
        return next(r.doc for r in res if r.kind == "ConfigMap" and "study.json" in (r.doc.get("data") or {}))

    return [
        ("a misspelt worker flag", "unknown flag --exit-when-dne",
         lambda res, k: _replace_arg(res, wo, "--exit-when-done", "--exit-when-dne")),
        ("a coordinator flag hpo-coordinator lacks", "unknown flag --port",
         lambda res, k: _container(res, co)[1]["args"].extend(["--port", "5555"])),
        ("a flag without its value", "--study needs a value",
         lambda res, k: _container(res, co)[1]["args"].remove("/etc/hpo/study/study.json")),
        ("no --exit-when-done", "no --exit-when-done",
         lambda res, k: _container(res, wo)[1]["args"].remove("--exit-when-done")),
        ("--resume fixed in args", "--resume in args",
         lambda res, k: _container(res, co)[1]["args"].append("--resume")),
        ("a start command that cannot resume", "must add --resume",
         lambda res, k: _container(res, co)[1].update(command=["hpo-coordinator"])),
        ("the Service on another port", "--connect port 5555",
         lambda res, k: services(res)[0]["spec"]["ports"][0].update(port=5556)),
        ("a targetPort that misses the bind port", "leads to 5556",
         lambda res, k: services(res)[0]["spec"]["ports"][0].update(targetPort=5556)),
        ("a worker connecting to a name that is no Service", "no Service named coordinator",
         lambda res, k: _set_arg_value(res, wo, "--connect", "tcp://coordinator:5555")),
        ("a Service that selects the workers too", "also selects the pods of Job",
         lambda res, k: services(res)[0]["spec"]["selector"].pop("app.kubernetes.io/component")),
        ("a loopback --bind", "must be tcp://*:PORT",
         lambda res, k: _set_arg_value(res, co, "--bind", "tcp://127.0.0.1:5555")),
        ("a Secret name that does not exist", "no Secret named hpo-worker-key ",
         lambda res, k: _secret_volume(res, wo, ".key")["secret"].update(secretName="hpo-worker-key")),
        ("a ConfigMap name that does not exist", "no ConfigMap named hpo-studies",
         lambda res, k: _volume(res, co, "study")["configMap"].update(name="hpo-studies")),
        ("a claim name that does not exist", "no PersistentVolumeClaim named hpo-data",
         lambda res, k: _volume(res, wo, "shared")["persistentVolumeClaim"].update(claimName="hpo-data")),
        ("a group-readable key mount", "lets group or others read",
         lambda res, k: _secret_volume(res, co, ".key")["secret"].update(defaultMode=0o440)),
        ("fsGroup on a pod with keys", "fsGroup",
         lambda res, k: _container(res, wo)[0]["spec"]["template"]["spec"]["securityContext"].update(fsGroup=1000)),
        ("a key file the Secret lacks", "has no file worker.pem",
         lambda res, k: _set_arg_value(res, wo, "--curve-secret", "/etc/hpo/keys/worker.pem")),
        ("a worker without its keys", "needs --server-public",
         lambda res, k: _remove_flag(res, wo, "--server-public")),
        ("a study path on no volume", "on no volume",
         lambda res, k: _set_arg_value(res, co, "--study", "/study.json")),
        ("a study that does not plan", "fails hpo-coordinator --plan",
         lambda res, k: study_configmap(res)["data"].update(
             {"study.json": study_configmap(res)["data"]["study.json"].replace('"eta": 3', '"eta": 1')})),
        ("two coordinator replicas", "2 replicas",
         lambda res, k: _container(res, co)[0]["spec"].update(replicas=2)),
        ("a rolling update", "strategy must be Recreate",
         lambda res, k: _container(res, co)[0]["spec"].update(strategy={"type": "RollingUpdate"})),
        ("a misspelt field", "unknown field 'replica'",
         lambda res, k: _container(res, co)[0]["spec"].update(replica=1)),
        ("a missing apiVersion", "unknown apiVersion/kind None/Job",
         lambda res, k: _container(res, wo)[0].pop("apiVersion")),
        ("a wrong type", "expected integer",
         lambda res, k: _container(res, wo)[0]["spec"].update(parallelism="4")),
        ("a Job that restarts Always", "restartPolicy OnFailure or Never",
         lambda res, k: _container(res, wo)[0]["spec"]["template"]["spec"].update(restartPolicy="Always")),
        ("no GPU limit", "no resources.limits nvidia.com/gpu",
         lambda res, k: _container(res, wo)[1]["resources"]["limits"].pop("nvidia.com/gpu")),
        ("a device the pod does not have", "--device cuda:1",
         lambda res, k: _set_arg_value(res, wo, "--device", "cuda:1")),
        ("shared data on a ReadWriteOnce claim", "is not ReadWriteMany",
         lambda res, k: claim_of(res, wo, "--data")["spec"].update(accessModes=["ReadWriteOnce"])),
        ("the database on an emptyDir", "not on a PersistentVolumeClaim",
         lambda res, k: _to_empty_dir(_volume(res, co, "results"))),
        ("a volumeMount naming no volume", "names no volume",
         lambda res, k: _container(res, wo)[1]["volumeMounts"][0].update(name="nothing")),
        ("a selector that misses its pods", "does not match the pod template",
         lambda res, k: _container(res, co)[0]["spec"]["selector"]["matchLabels"].update(tier="x")),
        ("a manifest left out of kustomization.yaml", "is not in resources",
         lambda res, k: k["resources"].pop()),
        ("a worker key the coordinator does not authorise", "not in Secret",
         lambda res, k: next(g for g in k["secretGenerator"] if g["name"] == "hpo-authorized-workers")
         .update(files=["keys/other.pub"])),
        ("a server key from another pair", "not the same pair",
         lambda res, k: next(g for g in k["secretGenerator"] if g["name"] == "hpo-worker-keys")
         .update(files=["keys/worker.key", "keys/worker.pub", "coordinator.pub=keys/old-coordinator.pub"])),
    ]


# --------------------------------------------------------------------------
# The coordinator's start command, run for real (as the container would, by
# /bin/sh) with a small synthetic study on loopback.

_RUN_STUDY = {
    "name": "k8s_start",
    "seed": 1,
    "objective": {"metric": "val_accuracy", "mode": "max"},
    "trainer": {"model": "synthetic", "epoch_seconds": 0.01},
    "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
    "algorithm": {"type": "random", "max_epochs": 2},
    "budget": {"max_trials": 4},
    "execution": {"max_attempts": 3, "heartbeat_s": 1, "lease_timeout_s": 5},
}


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, seconds):
    import time
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def run_start_command(resources, binaries):
    """Runs the coordinator's sh -c start command three times; returns a list
    of failures. binaries: hpo-coordinator, hpo-worker, hpo-query paths."""
    import signal
    import shutil
    _, c = _container(resources, "hpo-coordinator")
    command = c["command"]
    if len(command) != 4 or command[1] != "-c":
        return ["the coordinator's command is not sh -c SCRIPT NAME"]
    script, name = command[2], command[3]
    failures = []
    started = []  # each in its own process group, with the coordinator
    work = tempfile.mkdtemp(prefix="hpo_k8s_start_")
    try:
        os.mkdir(os.path.join(work, "bin"))
        for program in ("hpo-coordinator", "hpo-query"):
            os.symlink(os.path.abspath(binaries[program]), os.path.join(work, "bin", program))
        env = dict(os.environ, PATH=os.path.join(work, "bin") + os.pathsep + os.environ.get("PATH", ""))
        study = os.path.join(work, "study.json")
        with open(study, "w") as f:
            json.dump(_RUN_STUDY, f)

        def start(db, log):
            port = _free_port()
            args = ["--study", study, "--db", db, "--bind", f"tcp://127.0.0.1:{port}"]
            out = open(log, "w")
            p = subprocess.Popen(["/bin/sh", "-c", script, name] + args, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
            started.append(p)
            return p, port

        def text(log):
            with open(log) as f:
                return f.read()

        def stop(p, log, expected, what):
            p.send_signal(signal.SIGTERM)
            try:
                code = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                failures.append(f"{what}: the start command did not exit on SIGTERM; its output:\n{text(log)}")
                return
            if code != expected:
                failures.append(f"{what}: exit {code} on SIGTERM, expected {expected}; its output:\n{text(log)}")

        db = os.path.join(work, "results.db")
        # 1. A new study: no --resume; a worker runs it; the pod stays up.
        log = os.path.join(work, "run1.log")
        p, port = start(db, log)
        worker = subprocess.run([binaries["hpo-worker"], "--connect", f"tcp://127.0.0.1:{port}",
                                 "--data", work, "--slots", "2", "--exit-when-done"],
                                capture_output=True, text=True, timeout=120)
        if worker.returncode != 0:
            failures.append(f"run 1: the worker exited {worker.returncode}: {worker.stderr}")
        if not _wait_for(lambda: "the study is over" in text(log) or p.poll() is not None, 30):
            failures.append(f"run 1: no \"the study is over\" line; output:\n{text(log)}")
        if p.poll() is not None:
            failures.append(f"run 1: the start command exited ({p.returncode}) after the study: the pod "
                            f"would restart; output:\n{text(log)}")
        elif "--resume" in text(log).split("\n")[0]:
            failures.append(f"run 1: --resume on a new database: {text(log).splitlines()[0]}")
        stop(p, log, 0, "run 1")
        # 2. The same database: --resume added; the study is complete.
        log = os.path.join(work, "run2.log")
        p, port = start(db, log)
        if not _wait_for(lambda: "the study is over" in text(log) or p.poll() is not None, 30):
            failures.append(f"run 2: no \"the study is over\" line; output:\n{text(log)}")
        if not re.search(r"start-coordinator: hpo-coordinator .* --resume", text(log)) or \
                "already complete" not in text(log):
            failures.append(f"run 2: the database holds the study, but it was not resumed; output:\n{text(log)}")
        if p.poll() is None:
            stop(p, log, 0, "run 2")
        # 3. SIGTERM while the study runs reaches the coordinator (exit 143).
        log = os.path.join(work, "run3.log")
        p, port = start(os.path.join(work, "other.db"), log)
        if not _wait_for(lambda: "listening on" in text(log) or p.poll() is not None, 30):
            failures.append(f"run 3: the coordinator did not start; output:\n{text(log)}")
        stop(p, log, 143, "run 3")
        if "resume with" not in text(log):
            failures.append(f"run 3: the coordinator did not save on SIGTERM; output:\n{text(log)}")
    finally:
        for p in started:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifests", required=True)
    parser.add_argument("--coordinator", required=True, help="the hpo-coordinator binary")
    parser.add_argument("--worker", required=True, help="the hpo-worker binary")
    parser.add_argument("--query", help="the hpo-query binary: run the coordinator's start command for real")
    parser.add_argument("--schema", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "k8s_schema.json"))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    flags = {"hpo-coordinator": help_flags(args.coordinator), "hpo-worker": help_flags(args.worker)}

    resources, kustomization, errors = load_manifests(args.manifests)
    if errors:
        print("\n".join(errors))
        return 1

    def check(res, kust):
        checker = Checker(args.manifests, res, kust, schema, flags, args.coordinator)
        return checker.run(), checker

    problems, checker = check(copy.deepcopy(resources), copy.deepcopy(kustomization))
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    kinds = sorted({f"{r.kind}" for r in checker.resources})
    generated = len(checker.resources) - len(resources)
    print(f"k8s_check: {len(resources)} objects and {generated} generated by kustomization.yaml "
          f"({', '.join(kinds)}) in {args.manifests}: {checker.checked} checks passed")
    if args.query:
        failures = run_start_command(resources, {"hpo-coordinator": args.coordinator,
                                                 "hpo-worker": args.worker, "hpo-query": args.query})
        for f in failures:
            print(f"FAIL: start command: {f}")
        if failures:
            return 1
        print("k8s_check: the coordinator's start command ran a study, resumed it, and saved on SIGTERM")
    if not args.self_test:
        return 0
    failed = 0
    for name, expected, mutate in _mutations():
        res, kust = copy.deepcopy(resources), copy.deepcopy(kustomization)
        mutate(res, kust[1])
        problems, _ = check(res, kust)
        if not any(expected in p for p in problems):
            failed += 1
            print(f"FAIL: self-test: {name}: expected an error with {expected!r}, got: "
                  + ("; ".join(problems) or "none"))
    total = len(_mutations())
    print(f"k8s_check: self-test: {total - failed} of {total} broken variants reported")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
