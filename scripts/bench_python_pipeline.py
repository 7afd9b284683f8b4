#!/usr/bin/env python3
"""The baseline for `make bench`: the pipeline a user might write instead of HogMail.

Python-Markdown + Jinja2 + premailer, the same drafts, a template of the same shape
(layout tables, a <style> block that premailer inlines), and the same outputs per
issue: email.html, email.txt, email.eml, web.html.

Usage: bench_python_pipeline.py PROJECT_DIR OUT_DIR
"""
import email.policy
import glob
import os
import re
import sys
import textwrap
from email.message import EmailMessage
from email.utils import format_datetime

import jinja2
import markdown
import premailer
import yaml

EMAIL = jinja2.Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ subject }}</title>
<style>
body { margin: 0; background: #f4f4f5; }
.content { padding: 32px 40px; font-family: Helvetica, Arial, sans-serif; color: #1d1f27; }
p, li { font-size: 16px; line-height: 1.6; margin: 0 0 16px 0; }
a { color: #1d4aff; text-decoration: underline; }
h2 { font-size: 22px; margin: 28px 0 12px 0; }
pre { background: #f3f4f6; padding: 12px 16px; font-size: 14px; }
img { display: block; max-width: 100%; height: auto; }
</style></head>
<body><div style="display:none">{{ preheader }}</div>
<table role="presentation" width="100%"><tr><td align="center">
<table role="presentation" width="600"><tr><td class="content">
<h1>{{ title }}</h1>
{{ content }}
<p>{{ why }}</p>
<p><a href="{{ unsubscribe }}">Unsubscribe</a> · {{ postal }}</p>
</td></tr></table></td></tr></table></body></html>""")


def main():
    project, out = sys.argv[1], sys.argv[2]
    config = yaml.safe_load(open(os.path.join(project, "hogmail.yml")))
    site = config["urls"]["site"].rstrip("/")
    public = config["urls"]["public"].rstrip("/")
    unsubscribe = f"{public}/unsubscribe?token=sample"
    for path in sorted(glob.glob(os.path.join(project, "issues", "*.md"))):
        text = open(path, encoding="utf-8").read()
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front)
        number = re.match(r"\d+", os.path.basename(path)).group(0).lstrip("0")
        html_body = markdown.markdown(body, extensions=["tables", "fenced_code"])
        html_body = re.sub(r'(href|src)="/', rf'\1="{site}/', html_body)
        html = premailer.transform(EMAIL.render(
            subject=meta["title"], title=meta["title"], preheader=meta.get("preheader", ""),
            content=html_body, why=config["list"]["why"], unsubscribe=unsubscribe,
            postal=config["list"]["postal_address"]))
        links = []

        def reference(match):
            links.append(match.group(2) if match.group(2).startswith("http") else site + match.group(2))
            return f"{match.group(1)} [{len(links)}]"
        plain = re.sub(r"\[([^\]]+)\]\(([^)\s]+)[^)]*\)", reference, body)
        plain = "\n\n".join(textwrap.fill(p, 78) if not p.startswith(("```", "    ")) else p
                            for p in plain.split("\n\n"))
        plain += "\n\n" + "\n".join(f"[{i + 1}] {u}" for i, u in enumerate(links))
        plain += f"\n\n--\n{config['list']['why']}\nUnsubscribe: {unsubscribe}\n{config['list']['postal_address']}\n"
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = config["list"]["from"]
        message["To"] = "Sample Reader <reader@example.com>"
        message["Subject"] = meta["title"]
        message["Date"] = format_datetime(__import__("datetime").datetime.fromisoformat(str(meta["date"]) + "T16:00:00+00:00"))
        message["List-Unsubscribe"] = f"<{unsubscribe}>, <mailto:unsubscribe@example.com>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(plain)
        message.add_alternative(html, subtype="html")
        folder = os.path.join(out, number)
        os.makedirs(folder, exist_ok=True)
        for name, data in [("email.html", html), ("email.txt", plain), ("web.html", html)]:
            open(os.path.join(folder, name), "w", encoding="utf-8").write(data)
        open(os.path.join(folder, "email.eml"), "wb").write(message.as_bytes())


if __name__ == "__main__":
    main()
