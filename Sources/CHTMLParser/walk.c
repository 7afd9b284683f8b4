#include "CHTMLParser.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>

// libxml2 2.9 sets up its global locks on first use, which is a race when two threads parse
// at once (the tests and the preview do): two threads then wait on a lock forever. Its manual
// says to call xmlInitParser once before any threaded use.
static pthread_once_t initialized = PTHREAD_ONCE_INIT;
static void initialize(void) { xmlInitParser(); }

static void visit_element(xmlNodePtr node, const hogmail_html_visitor *visitor) {
    size_t count = 0;
    for (xmlAttrPtr attribute = node->properties; attribute != NULL; attribute = attribute->next) count++;
    const char **pairs = calloc(count * 2 + 1, sizeof(char *));
    xmlChar **values = calloc(count + 1, sizeof(xmlChar *));
    size_t index = 0;
    for (xmlAttrPtr attribute = node->properties; attribute != NULL; attribute = attribute->next, index++) {
        values[index] = xmlNodeListGetString(node->doc, attribute->children, 1);
        pairs[index * 2] = (const char *)attribute->name;
        pairs[index * 2 + 1] = values[index] ? (const char *)values[index] : "";
    }
    visitor->start_element(visitor->context, (const char *)node->name, pairs, (int)xmlGetLineNo(node));
    for (size_t i = 0; i < count; i++) if (values[i]) xmlFree(values[i]);
    free(values);
    free(pairs);
}

// Depth-first without recursion (parent and sibling pointers), so no document, however
// deep, can overflow the stack.
static void walk(xmlNodePtr first, const hogmail_html_visitor *visitor) {
    xmlNodePtr top = first ? first->parent : NULL;
    xmlNodePtr node = first;
    while (node != NULL) {
        if (node->type == XML_ELEMENT_NODE) {
            visit_element(node, visitor);
            if (node->children != NULL) {
                node = node->children;
                continue;
            }
            visitor->end_element(visitor->context);
        } else if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
            if (node->content) visitor->text(visitor->context, (const char *)node->content, (int)xmlGetLineNo(node));
        }
        // The next sibling, else the next sibling of the nearest ancestor that has one.
        while (node->next == NULL) {
            node = node->parent;
            if (node == NULL || node == top) return;
            visitor->end_element(visitor->context);
        }
        node = node->next;
    }
}

int hogmail_html_walk(const char *html, size_t length, const hogmail_html_visitor *visitor) {
    pthread_once(&initialized, initialize);
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
    htmlParserCtxtPtr context = htmlNewParserCtxt();
    if (context == NULL) return -1;
    htmlDocPtr document = htmlCtxtReadMemory(context, html, (int)length, "email.html", "UTF-8", options);
    // libxml2 halts (and turns its SAX callbacks off) at its depth limit, 256 elements,
    // keeping only what it read so far: the caller must know the tree is cut short.
    int halted = context->disableSAX != 0;
    htmlFreeParserCtxt(context);
    if (document == NULL) return -1;
    walk(xmlDocGetRootElement(document), visitor);
    xmlFreeDoc(document);
    return halted ? 1 : 0;
}
