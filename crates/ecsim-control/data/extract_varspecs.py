"""Extracts the public variable specs of ControlWorkflows' readout-dataflow template into
readout-dataflow.varspecs.json, the data behind `GetWorkflowTemplates`.

AliECS collects a template's "public variables": every entry of a `defaults` or `vars` mapping,
anywhere in the template, whose value is a mapping tagged `!public`
(`core/repos/repoutils.go`, parseYamlPublicVars). This does the same and keeps, per variable,
its facts: default value, type, label, widget, panel, index, allowed values, rows, the
visibility and enablement expressions, and whether it is a default or a var. Descriptions are
left out (ecsim carries over facts, not prose).

Usage: python3 extract_varspecs.py path/to/ControlWorkflows/workflows/readout-dataflow.yaml COMMIT
"""

import json
import sys

import yaml


class Public(dict):
    """A mapping tagged !public."""


def public(loader, node):
    if isinstance(node, yaml.MappingNode):
        return Public(loader.construct_mapping(node, deep=True))
    return loader.construct_scalar(node)


class Loader(yaml.SafeLoader):
    pass


Loader.add_constructor("!public", public)


def walk(node, parent, found):
    if isinstance(node, list):
        for item in node:
            walk(item, "", found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if parent in ("defaults", "vars") and isinstance(value, Public):
                if key in found:
                    raise SystemExit(f"duplicate public variable {key}")
                found[key] = (parent, value)
            walk(value, key, found)


def main(path, commit):
    with open(path) as f:
        template = yaml.load(f, Loader=Loader)
    found = {}
    walk(template, "", found)
    specs = []
    for name in sorted(found):
        source, spec = found[name]
        entry = {"name": name, "source": source, "value": str(spec.get("value", ""))}
        for key in ("type", "label", "widget", "panel", "visibleif", "enabledif"):
            if spec.get(key) not in (None, ""):
                entry[key] = str(spec[key])
        if spec.get("values"):
            entry["values"] = [str(v) for v in spec["values"]]
        for key in ("index", "rows"):
            if spec.get(key) is not None:
                entry[key] = int(spec[key])
        specs.append(entry)
    json.dump(
        {
            "template": "readout-dataflow",
            "from": f"AliceO2Group/ControlWorkflows workflows/readout-dataflow.yaml at {commit}",
            "variables": specs,
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
