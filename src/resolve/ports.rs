//! Host ports: the ones the spec gives are claimed first, so the defaults (from
//! [`FIRST_PORT`] up) flow around them.

use super::*;

/// The host ports handed out so far, each with the service that has it.
pub(super) struct HostPorts<'a> {
    taken: BTreeMap<u16, &'a str>,
    next: u16,
}

impl<'a> HostPorts<'a> {
    /// Claims every explicit `port`; a port two services name is an error at the second.
    pub(super) fn claim_explicit(
        services: &'a IndexMap<String, ServiceSpec>,
        diags: &mut Vec<Diagnostic>,
    ) -> HostPorts<'a> {
        let mut taken: BTreeMap<u16, &str> = BTreeMap::new();
        for (name, svc) in services {
            let Some(p) = svc.port else { continue };
            if let Some(other) = taken.insert(p, name) {
                diags.push(
                    Diagnostic::error(format!("host port {p} is used by both `{other}` and `{name}`"))
                        .at(format!("/services/{}/port", escape_segment(name)))
                        .help("give each service its own port, or leave `port` out to get a free one"),
                );
            }
        }
        HostPorts { taken, next: FIRST_PORT }
    }

    /// The service's host port: its own, else the lowest free one from [`FIRST_PORT`].
    pub(super) fn assign(&mut self, name: &'a str, explicit: Option<u16>) -> u16 {
        if let Some(p) = explicit {
            return p;
        }
        while self.taken.contains_key(&self.next) && self.next < u16::MAX {
            self.next += 1;
        }
        self.taken.insert(self.next, name);
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(yaml: &str) -> IndexMap<String, ServiceSpec> {
        serde_yaml::from_str(yaml).expect("services")
    }

    #[test]
    fn defaults_skip_the_explicit_ports() {
        let s = services("a: {model: m}\nb: {model: m, port: 8001}\nc: {model: m}\nd: {model: m, port: 8000}\n");
        let mut diags = Vec::new();
        let mut ports = HostPorts::claim_explicit(&s, &mut diags);
        let got: Vec<u16> = s.iter().map(|(name, svc)| ports.assign(name, svc.port)).collect();
        assert_eq!(got, [8002, 8001, 8003, 8000]);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn a_port_named_twice_is_an_error_at_the_second_service() {
        let s = services("a: {model: m, port: 9000}\nb: {model: m, port: 9000}\n");
        let mut diags = Vec::new();
        HostPorts::claim_explicit(&s, &mut diags);
        let [d] = diags.as_slice() else { panic!("{diags:?}") };
        assert_eq!(d.message, "host port 9000 is used by both `a` and `b`");
        assert_eq!(d.pointer.as_deref(), Some("/services/b/port"));
    }
}
