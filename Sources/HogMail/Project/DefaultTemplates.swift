/// The templates a new project starts with (`hogmail init` writes them to `templates/`),
/// and the fallback for any template a project does not have. The repository's own
/// `templates/` holds the same text; a test keeps the two equal.
public enum DefaultTemplates {
    public static let files: [(name: String, text: String)] = [
        ("email.html.mustache", emailHTML),
        ("email.txt.mustache", emailText),
        ("web.html.mustache", webHTML),
        ("index.html.mustache", indexHTML),
        ("feed.xml.mustache", feedXML),
        ("partials/footer.html.mustache", footerHTML),
    ]

    static let emailHTML = #"""
<!DOCTYPE html>
<html lang="{{lang}}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>{{subject}}</title>
<style>
  /* Only what inline styles cannot do: phone widths and dark mode. */
  @media (max-width: 620px) {
    .hm-container { width: 100% !important; }
    .hm-content { padding: 24px 18px !important; }
  }
  @media (prefers-color-scheme: dark) {
    .hm-body, .hm-outer { background-color: #111214 !important; }
    .hm-container { background-color: #1c1d21 !important; }
    .hm-content, .hm-content p, .hm-content li, .hm-content h1, .hm-content h2, .hm-content h3, .hm-content td, .hm-content th { color: #e8e8ea !important; }
    .hm-content a { color: #8ab4ff !important; }
    .hm-content pre, .hm-content code { background-color: #2a2c31 !important; color: #e8e8ea !important; }
    .hm-footer, .hm-footer p, .hm-footer a { color: #a9adb4 !important; }
  }
</style>
</head>
<body class="hm-body" style="margin:0;padding:0;background-color:#f4f4f5;">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">{{preheader}}{{{preheader_spacer}}}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" class="hm-outer" style="background-color:#f4f4f5;">
<tr>
<td align="center" style="padding:24px 8px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" class="hm-container" style="width:600px;max-width:600px;background-color:#ffffff;border-radius:8px;">
<tr>
<td class="hm-content" style="padding:32px 40px;font-family:-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;color:#1d1f27;">
<p style="margin:0 0 24px 0;font-size:13px;line-height:1.5;color:#5f6368;">{{list_name}} · {{issue_label}} · {{date_long}} · <a href="{{web_url}}" style="color:#5f6368;text-decoration:underline;">View in your browser</a></p>
<h1 style="margin:0 0 20px 0;font-size:28px;line-height:1.25;font-weight:700;color:#151515;">{{title}}</h1>
{{{content}}}
</td>
</tr>
<tr>
<td class="hm-footer" style="padding:24px 40px 32px 40px;border-top:1px solid #e5e7eb;font-family:-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;">
{{> partials/footer.html}}
</td>
</tr>
</table>
</td>
</tr>
</table>
</body>
</html>

"""#

    static let footerHTML = #"""
<p style="margin:0 0 12px 0;font-size:14px;line-height:1.6;color:#5f6368;">{{why}}</p>
<p style="margin:0 0 12px 0;font-size:14px;line-height:1.6;color:#5f6368;"><a href="{{{unsubscribe_url}}}" style="color:#1d4aff;text-decoration:underline;font-size:14px;">Unsubscribe</a> with one click, no login. Replies reach a person: just hit reply.</p>
<p style="margin:0;font-size:13px;line-height:1.6;color:#5f6368;">{{list_name}} · {{postal_address}}</p>

"""#

    static let emailText = #"""
{{% CONTENT_TYPE: TEXT}}
{{title}}
{{list_name}} · {{issue_label}} · {{date_long}}
View in your browser: {{web_url}}

{{body}}
{{#has_references}}

Links:
{{references}}
{{/has_references}}

--
{{why}}
Unsubscribe with one click, no login: {{unsubscribe_url}}

{{list_name}}
{{postal_address}}

"""#

    static let webHTML = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{subject}} · {{list_name}}</title>
<meta name="description" content="{{preheader}}">
<link rel="alternate" type="application/atom+xml" title="{{list_name}}" href="{{feed_url}}">
<style>
  body { margin: 0; background: #f4f4f5; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; }
  main { max-width: 600px; margin: 0 auto; padding: 32px 20px; background: #ffffff; }
  nav { font-size: 14px; margin-bottom: 24px; }
  .draft { padding: 8px 12px; background: #fff4cc; border: 1px solid #e0c200; margin-bottom: 16px; }
  @media (prefers-color-scheme: dark) {
    body { background: #111214; }
    main { background: #1c1d21; }
    main, main p, main li, main h1, main h2, main h3, main td, main th { color: #e8e8ea !important; }
    main a { color: #8ab4ff !important; }
    main pre, main code { background-color: #2a2c31 !important; color: #e8e8ea !important; }
  }
</style>
</head>
<body>
<main>
<nav><a href="../index.html">{{list_name}} archive</a> · <a href="{{subscribe_url}}">Subscribe</a></nav>
{{#is_draft}}<p class="draft">Draft: this issue has not been sent and is not in the archive.</p>{{/is_draft}}
<p style="font-size:13px;color:#5f6368;">{{issue_label}} · {{date_long}}</p>
<h1 style="margin:0 0 20px 0;font-size:28px;line-height:1.25;font-weight:700;color:#151515;">{{title}}</h1>
{{{content}}}
<hr style="margin:24px 0;border:0;border-top:1px solid #e5e7eb;">
<p style="font-size:14px;color:#5f6368;">{{list_name}} · {{postal_address}}</p>
</main>
</body>
</html>

"""#

    static let indexHTML = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{list_name}}: archive</title>
<link rel="alternate" type="application/atom+xml" title="{{list_name}}" href="{{feed_url}}">
<style>
  body { margin: 0; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1d1f27; background: #ffffff; }
  main { max-width: 600px; margin: 0 auto; padding: 32px 20px; }
  li { margin-bottom: 16px; line-height: 1.5; }
  .date { color: #5f6368; font-size: 14px; }
  a { color: #1d4aff; }
  @media (prefers-color-scheme: dark) { body { background: #111214; color: #e8e8ea; } a { color: #8ab4ff; } .date { color: #a9adb4; } }
</style>
</head>
<body>
<main>
<h1>{{list_name}}</h1>
<p><a href="{{subscribe_url}}">Subscribe</a> · <a href="feed.xml">Atom feed</a></p>
<ol reversed>
{{#issues}}
<li><a href="{{folder}}/web.html">{{subject}}</a><br><span class="date">{{issue_label}} · {{date_long}}</span><br>{{preheader}}</li>
{{/issues}}
</ol>
{{^issues}}<p>No issues yet.</p>{{/issues}}
</main>
</body>
</html>

"""#

    static let feedXML = #"""
<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{{lang}}">
<title>{{list_name}}</title>
<id>{{archive_url}}</id>
<link rel="alternate" type="text/html" href="{{archive_url}}"/>
<link rel="self" type="application/atom+xml" href="{{feed_url}}"/>
<updated>{{updated}}</updated>
<author><name>{{list_name}}</name></author>
{{#issues}}
<entry>
<title>{{subject}}</title>
<id>{{web_url}}</id>
<link rel="alternate" type="text/html" href="{{web_url}}"/>
<published>{{published}}</published>
<updated>{{published}}</updated>
<summary>{{preheader}}</summary>
<content type="html">{{content}}</content>
</entry>
{{/issues}}
</feed>

"""#
}
