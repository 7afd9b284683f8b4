#ifndef HOGMAIL_CHTMLPARSER_H
#define HOGMAIL_CHTMLPARSER_H

// libxml2's HTML parser behind three callbacks. libxml2's own headers bring in the
// system ICU, which clashes with Foundation's copy when imported into Swift; this
// header exposes none of them.

#include <stddef.h>

typedef struct {
    void *context;
    /// `attributes` is name, value, name, value, …, NULL.
    void (*start_element)(void *context, const char *name, const char *const *attributes, int line);
    void (*end_element)(void *context);
    void (*text)(void *context, const char *text, int line);
} hogmail_html_visitor;

/// Parses `html` (UTF-8) leniently, as browsers and mail clients do, and walks the tree.
/// Returns 0 on success, 1 if libxml2 stopped early (the document is nested past its depth
/// limit; the walk covers what it read), -1 if libxml2 could not build a document at all.
int hogmail_html_walk(const char *html, size_t length, const hogmail_html_visitor *visitor);

#endif
