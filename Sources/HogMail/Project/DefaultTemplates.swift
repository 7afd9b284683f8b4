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
        ("confirmation.txt.mustache", confirmationText),
        ("confirmation.html.mustache", confirmationHTML),
        ("pages/subscribe.html.mustache", subscribePage),
        ("pages/unsubscribe.html.mustache", unsubscribePage),
        ("pages/confirm.html.mustache", confirmPage),
        ("pages/message.html.mustache", messagePage),
        ("partials/page-head.html.mustache", pageHead),
    ]

    static let confirmationText = #"""
{{% CONTENT_TYPE: TEXT}}
Please confirm your subscription to {{list_name}}.

Someone, hopefully you, asked to get {{list_name}} at {{email}}.
To confirm, open this link within {{valid_days}} days:

{{confirm_url}}

If it was not you, ignore this email: nothing will be sent to you.

--
{{list_name}}
{{postal_address}}

"""#

    static let confirmationHTML = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Confirm your subscription</title></head>
<body style="margin:0;padding:24px;background-color:#f4f4f5;font-family:-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" style="width:600px;max-width:600px;background-color:#ffffff;border-radius:8px;"><tr><td style="padding:32px 40px;color:#1d1f27;">
<h1 style="margin:0 0 16px 0;font-size:24px;">Please confirm your subscription</h1>
<p style="margin:0 0 16px 0;font-size:16px;line-height:1.6;">Someone, hopefully you, asked to get {{list_name}} at {{email}}.</p>
<p style="margin:0 0 24px 0;"><a href="{{confirm_url}}" style="display:inline-block;padding:12px 20px;background-color:#1d4aff;color:#ffffff;text-decoration:none;border-radius:6px;font-size:16px;">Confirm my subscription</a></p>
<p style="margin:0 0 16px 0;font-size:14px;line-height:1.6;color:#5f6368;">The link works for {{valid_days}} days. If it was not you, ignore this email: nothing will be sent to you.</p>
<p style="margin:0;font-size:13px;color:#5f6368;">{{list_name}} · {{postal_address}}</p>
</td></tr></table>
</td></tr></table>
</body>
</html>

"""#

    static let pageHead = #"""
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<style>
  body { margin: 0; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; background: #f4f4f5; color: #1d1f27; }
  main { max-width: 480px; margin: 48px auto; padding: 32px 24px; background: #ffffff; border-radius: 8px; line-height: 1.6; }
  label { display: block; margin: 16px 0 4px; font-weight: 600; }
  input[type=email], input[type=text] { width: 100%; box-sizing: border-box; padding: 10px; font-size: 16px; border: 1px solid #9ca3af; border-radius: 6px; }
  button { margin-top: 20px; padding: 12px 20px; font-size: 16px; background: #1d4aff; color: #ffffff; border: 0; border-radius: 6px; cursor: pointer; }
  button:focus, input:focus { outline: 3px solid #f59e0b; outline-offset: 2px; }
  .consent, .small { font-size: 14px; color: #4b5563; }
  @media (prefers-color-scheme: dark) { body { background: #111214; color: #e8e8ea; } main { background: #1c1d21; } .consent, .small { color: #a9adb4; } }
</style>
"""#

    static let subscribePage = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head>
{{> partials/page-head.html}}
<title>Subscribe to {{list_name}}</title>
</head>
<body>
<main>
<h1>Subscribe to {{list_name}}</h1>
<form method="post" action="{{subscribe_path}}">
<label for="email">Email address</label>
<input type="email" id="email" name="email" required autocomplete="email">
<label for="name">Name (optional)</label>
<input type="text" id="name" name="name" autocomplete="name">
<p class="consent">{{consent_text}}</p>
<p class="small">We send a confirmation email first; nothing else arrives until you confirm.</p>
<button type="submit">Subscribe</button>
</form>
</main>
</body>
</html>

"""#

    static let unsubscribePage = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head>
{{> partials/page-head.html}}
<title>Unsubscribe from {{list_name}}</title>
</head>
<body>
<main>
<h1>Unsubscribe from {{list_name}}</h1>
<p>This stops every email from {{list_name}} to {{masked_email}}.</p>
<form method="post" action="{{action}}">
<input type="hidden" name="confirm" value="yes">
<button type="submit">Unsubscribe</button>
</form>
</main>
</body>
</html>

"""#

    /// A GET of the confirmation link only shows this: mail scanners fetch links, and a
    /// double opt-in they could complete would prove nothing.
    static let confirmPage = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head>
{{> partials/page-head.html}}
<title>Confirm your subscription to {{list_name}}</title>
</head>
<body>
<main>
<h1>Confirm your subscription to {{list_name}}</h1>
<p>Press the button to start getting {{list_name}} at {{masked_email}}. If you did not ask for it, close this page: nothing will be sent.</p>
<form method="post" action="{{action}}">
<button type="submit">Confirm my subscription</button>
</form>
</main>
</body>
</html>

"""#

    static let messagePage = #"""
<!DOCTYPE html>
<html lang="{{lang}}">
<head>
{{> partials/page-head.html}}
<title>{{heading}} · {{list_name}}</title>
</head>
<body>
<main>
<h1>{{heading}}</h1>
<p>{{message}}</p>
</main>
</body>
</html>

"""#

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
