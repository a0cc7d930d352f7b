//! [`CredentialTypes`]: the credential types the store accepts, as the plugins declared them.

use node_api::CredentialType;

/// The credential types the store knows, by name, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct CredentialTypes {
    types: Vec<CredentialType>,
}

impl CredentialTypes {
    /// The types given; a later type with a name already taken is refused by name.
    pub fn new(types: impl IntoIterator<Item = CredentialType>) -> Result<Self, String> {
        let mut out = Self::default();
        for t in types {
            if out.get(t.name).is_some() {
                return Err(format!("credential type {} is declared twice", t.name));
            }
            out.types.push(t);
        }
        Ok(out)
    }

    /// The type with this name.
    pub fn get(&self, name: &str) -> Option<&CredentialType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The names of all types, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.types.iter().map(|t| t.name)
    }

    /// Every type.
    pub fn iter(&self) -> impl Iterator<Item = &CredentialType> {
        self.types.iter()
    }
}
