#include "CHTMLParser.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdlib.h>

static void walk(xmlNodePtr node, const hogmail_html_visitor *visitor) {
    for (; node != NULL; node = node->next) {
        if (node->type == XML_ELEMENT_NODE) {
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
            walk(node->children, visitor);
            visitor->end_element(visitor->context);
        } else if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
            if (node->content) visitor->text(visitor->context, (const char *)node->content, (int)xmlGetLineNo(node));
        }
    }
}

int hogmail_html_walk(const char *html, size_t length, const hogmail_html_visitor *visitor) {
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
    htmlDocPtr document = htmlReadMemory(html, (int)length, "email.html", "UTF-8", options);
    if (document == NULL) return -1;
    walk(xmlDocGetRootElement(document), visitor);
    xmlFreeDoc(document);
    return 0;
}
