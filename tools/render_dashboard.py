"""Renders the stack's CloudWatch dashboard, from its own definition in template.yaml, as a PNG for the
docs (docs/deploy-and-operate.md, "Alarms and the dashboard"): the same widgets, at the same places,
with the series each one plots. CloudWatch draws the data;
this draws the layout, so the picture cannot drift from what the template deploys (a test compares the
definition's hash with the one recorded beside the picture).

    python tools/render_dashboard.py template.yaml docs/dashboard.png
"""

import hashlib
import json
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Sub, !Ref, ...) as their plain values."""


def _tagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


TemplateLoader.add_multi_constructor("!", _tagged)


def dashboard_body(template_path):
    """The body as written (what the recorded hash covers), and its variables as deployed with every
    option on: a `!Sub [body, {name: !If [condition, text, ""]}]` takes each variable's first branch."""
    with open(template_path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=TemplateLoader)
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    if isinstance(body, str):
        return body, {}
    written, variables = body
    return written, {name: branches[1] for name, branches in variables.items()}


def filled(body, variables):
    for name, value in variables.items():
        body = body.replace("${" + name + "}", value)
    return body


def readable(body):
    """The body with each substitution named: `${IngestDLQ.QueueName}` becomes `IngestDLQ`."""
    return re.sub(r"\$\{([^}.]+)(?:\.[^}]*)?\}", lambda m: m.group(1).replace("AWS::", ""), body)


def series(widget):
    """The label of each series a metric widget plots."""
    labels, previous = [], []
    for line in widget["properties"]["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        if "expression" in options:
            labels.append(options.get("label", options["expression"]) + " (one line each)")
            continue
        parts = [p for p in line if not isinstance(p, dict)]
        if parts and parts[0] == "...":
            parts = previous[: len(previous) - len(parts) + 1] + parts[1:]
        parts = [previous[i] if p == "." else p for i, p in enumerate(parts)]
        previous = parts
        labels.append(options.get("label") or parts[1])
    return labels


def render(body, out_path):
    dashboard = json.loads(readable(body))
    fig = plt.figure(figsize=(16, 12), dpi=80)
    fig.suptitle("CloudWatch dashboard <stack>-webhooks (layout from template.yaml; CloudWatch plots the data)", fontsize=13)
    rows = max(w["y"] + w["height"] for w in dashboard["widgets"])
    for widget in dashboard["widgets"]:
        x, y, w, h = widget["x"], widget["y"], widget["width"], widget["height"]
        left, bottom = 0.03 + 0.95 * x / 24, 0.04 + 0.88 * (1 - (y + h) / rows)
        ax = fig.add_axes([left + 0.005, bottom + 0.035, 0.95 * w / 24 - 0.02, 0.88 * h / rows - 0.07])
        ax.set_title(widget["properties"]["title"], fontsize=10, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
        stat = widget["properties"].get("stat", "")
        for i, label in enumerate(series(widget)):
            ax.plot([], [], label=label, color=f"C{i % 10}")
        ax.legend(loc="upper left", fontsize=7, frameon=False, ncol=2 if w > 8 else 1)
        ax.text(0.99, 0.03, f"{stat} per {widget['properties'].get('period', 300)} s".strip(),
                transform=ax.transAxes, ha="right", fontsize=7, color="grey")
    fig.savefig(out_path)


def main():
    template_path, out_path = sys.argv[1], sys.argv[2]
    body, variables = dashboard_body(template_path)
    render(filled(body, variables), out_path)
    with open(out_path + ".sha256", "w", encoding="utf-8") as f:
        f.write(hashlib.sha256(body.encode("utf-8")).hexdigest() + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
