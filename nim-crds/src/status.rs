//! Typed views of the `status.state` strings the operator writes.
//!
//! The CRDs declare `state` as a free string, so the types keep it as one on the wire and these
//! enums read it; a value this crate does not know comes back as `Unknown` with the string.
//!
//! ```
//! use nim_crds::NIMCacheState;
//!
//! assert_eq!("Ready".parse::<NIMCacheState>(), Ok(NIMCacheState::Ready));
//! assert_eq!(NIMCacheState::from("PVC-Created"), NIMCacheState::PvcCreated);
//! assert_eq!(NIMCacheState::from("Evicted"), NIMCacheState::Unknown("Evicted".to_owned()));
//! assert_eq!(NIMCacheState::PvcCreated.as_str(), "PVC-Created");
//! ```

use std::{convert::Infallible, fmt, str::FromStr};

macro_rules! state_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A state this crate does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The string the operator writes.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Unknown(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl FromStr for $name {
            type Err = Infallible;
            fn from_str(value: &str) -> Result<Self, Infallible> {
                Ok(Self::from(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

state_enum! {
    /// State of a NIMCache.
    NIMCacheState {
        /// Not ready.
        NotReady = "NotReady",
        /// The PVC was created.
        PvcCreated = "PVC-Created",
        /// The caching Job started.
        Started = "Started",
        /// The caching Job is pending.
        Pending = "Pending",
        /// The caching Job is running.
        InProgress = "InProgress",
        /// The cache is filled.
        Ready = "Ready",
        /// Caching failed.
        Failed = "Failed",
    }
}

state_enum! {
    /// State of a NIMService.
    NIMServiceState {
        /// Declared, rarely used.
        Pending = "Pending",
        /// Not ready yet.
        NotReady = "NotReady",
        /// Serving.
        Ready = "Ready",
        /// Failed.
        Failed = "Failed",
    }
}

state_enum! {
    /// State of a NIMPipeline.
    NIMPipelineState {
        /// Some enabled service is not ready.
        NotReady = "NotReady",
        /// Every enabled service is ready.
        Ready = "Ready",
        /// A service failed.
        Failed = "Failed",
    }
}

state_enum! {
    /// State of a NIMBuild.
    NIMBuildState {
        /// Pending (also used on reconcile errors).
        Pending = "Pending",
        /// Started.
        Started = "Started",
        /// Building.
        InProgress = "InProgress",
        /// Built.
        Ready = "Ready",
        /// Failed.
        Failed = "Failed",
        /// Not ready.
        NotReady = "NotReady",
    }
}
