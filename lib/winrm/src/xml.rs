//! A small namespace-resolved element tree over `quick_xml::NsReader`.
//!
//! SOAP replies are tiny (a few KiB), so a tree is simpler and safer than a
//! streaming state machine: every query is a plain walk, and limits on depth
//! and element count keep hostile input from exhausting the stack or memory.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use crate::error::{Error, Result};

/// SOAP 1.2 envelope namespace.
pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (2004/08) namespace.
pub const NS_ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// DMTF WS-Management namespace.
pub const NS_WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// Microsoft WS-Management extensions namespace.
pub const NS_WSMAN_MS: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
/// Windows remote shell namespace.
pub const NS_SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// WS-Transfer namespace.
pub const NS_TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// Microsoft WS-Management fault detail namespace.
pub const NS_WSMAN_FAULT: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";

/// Deepest nesting accepted; real WinRM messages stay under 10 levels.
const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 100_000;

/// One XML element with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    namespace: String,
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    /// Parses a whole document and returns its root element.
    ///
    /// # Errors
    /// [`Error::Xml`] when the document is malformed, has no root, is nested
    /// deeper than 64 levels or holds more than 100 000 elements.
    pub fn parse(document: &[u8]) -> Result<Self> {
        let text =
            std::str::from_utf8(document).map_err(|e| Error::Xml(format!("not utf-8: {e}")))?;
        let mut reader = NsReader::from_str(text);
        let mut stack: Vec<Element> = Vec::new();
        let mut count = 0usize;
        loop {
            let position = reader.buffer_position();
            let (namespace, event) = reader
                .read_resolved_event()
                .map_err(|e| Error::Xml(format!("after byte {position}: {e}")))?;
            match event {
                Event::Start(start) | Event::Empty(start) if stack.len() >= MAX_DEPTH => {
                    let _ = start;
                    return Err(Error::Xml(format!(
                        "nesting deeper than {MAX_DEPTH} levels"
                    )));
                }
                Event::Start(start) => {
                    count += 1;
                    if count > MAX_ELEMENTS {
                        return Err(Error::Xml(format!("more than {MAX_ELEMENTS} elements")));
                    }
                    stack.push(Self::open(&namespace, &start)?);
                }
                Event::Empty(start) => {
                    count += 1;
                    let element = Self::open(&namespace, &start)?;
                    if let Some(done) = Self::close(&mut stack, element) {
                        return Ok(done);
                    }
                }
                Event::End(_) => {
                    let element = stack
                        .pop()
                        .ok_or_else(|| Error::Xml("closing tag without an opening tag".into()))?;
                    if let Some(done) = Self::close(&mut stack, element) {
                        return Ok(done);
                    }
                }
                Event::Text(text) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&text.xml10_content());
                    }
                }
                Event::CData(data) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&data.xml10_content());
                    }
                }
                Event::GeneralRef(reference) => {
                    let resolved = if reference.is_char_ref() {
                        reference
                            .resolve_char_ref()
                            .map_err(|e| Error::Xml(format!("bad character reference: {e}")))?
                            .map(String::from)
                    } else {
                        resolve_predefined_entity(&reference.xml10_content()).map(String::from)
                    };
                    let resolved = resolved.ok_or_else(|| {
                        Error::Xml(format!("unknown entity &{};", reference.xml10_content()))
                    })?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&resolved);
                    }
                }
                Event::Eof => {
                    return Err(Error::Xml(
                        "document ended before its root element closed".into(),
                    ));
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    fn open(namespace: &ResolveResult<'_>, start: &BytesStart<'_>) -> Result<Self> {
        let namespace = match namespace {
            ResolveResult::Bound(ns) => ns.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(Error::Xml(format!(
                    "undeclared namespace prefix {prefix:?}"
                )));
            }
        };
        let name = start.local_name().as_ref().to_owned();
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|e| Error::Xml(format!("attribute of <{name}>: {e}")))?;
            let key = attribute.key.local_name().as_ref().to_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| Error::Xml(format!("attribute {key} of <{name}>: {e}")))?
                .into_owned();
            attributes.push((key, value));
        }
        Ok(Self {
            namespace,
            name,
            attributes,
            children: Vec::new(),
            text: String::new(),
        })
    }

    /// Attaches `element` to its parent, or returns it when it is the root.
    fn close(stack: &mut [Element], element: Element) -> Option<Element> {
        match stack.last_mut() {
            Some(parent) => {
                parent.children.push(element);
                None
            }
            None => Some(element),
        }
    }

    /// The resolved namespace URI (empty when unbound).
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The local name, without prefix.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The concatenated character data directly inside this element.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value of the attribute with this local name.
    #[must_use]
    pub fn attribute(&self, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == local_name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether this element is `{namespace}name`.
    #[must_use]
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }

    /// Direct children named `{namespace}name`.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |child| child.is(namespace, name))
    }

    /// The first direct child named `{namespace}name`.
    #[must_use]
    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.is(namespace, name))
    }

    /// The first element named `{namespace}name` anywhere below this one
    /// (depth first, document order).
    #[must_use]
    pub fn descendant(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|child| {
            if child.is(namespace, name) {
                Some(child)
            } else {
                child.descendant(namespace, name)
            }
        })
    }

    /// Follows a path of `{namespace}name` steps through direct children.
    #[must_use]
    pub fn path(&self, steps: &[(&str, &str)]) -> Option<&Element> {
        steps.iter().try_fold(self, |element, (namespace, name)| {
            element.child(namespace, name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_resolve_to_namespaces_and_entities_are_decoded() {
        let doc = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body a="1&amp;2">x &lt; y&#x41;</s:Body></s:Envelope>"#;
        let root = Element::parse(doc).unwrap();
        assert!(root.is(NS_SOAP, "Envelope"));
        let body = root.child(NS_SOAP, "Body").unwrap();
        assert_eq!(body.text(), "x < yA");
        assert_eq!(body.attribute("a"), Some("1&2"));
    }

    #[test]
    fn undeclared_prefix_is_an_error() {
        assert!(matches!(Element::parse(b"<q:a/>"), Err(Error::Xml(_))));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = "<a>".repeat(100) + &"</a>".repeat(100);
        let error = Element::parse(doc.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("nesting"), "{error}");
    }

    #[test]
    fn truncated_document_is_an_error() {
        assert!(Element::parse(b"<a><b>").is_err());
        assert!(Element::parse(b"").is_err());
    }
}
