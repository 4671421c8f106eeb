//! Deserializing the received types in one pass, with their keys borrowed from the frame.

use super::*;

/// An object key, borrowed from the input when it has no escapes: the keys a struct names are
/// matched without allocating, only the others are copied (into `extra`).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `Deserialize` for a received struct whose fields are all optional (absent or `null`: `None`)
/// but `$required`, with every other member kept in `extra`: what `#[serde(flatten)]` did, in
/// one pass (serde buffers a flattened struct's whole input first, the costliest part of
/// typing a MESSAGE_SENT). A field of another type fails the whole struct, as the derive did,
/// so that the lenient path ([`MessageSent::decode_lenient`]) can take over.
macro_rules! deserialize_with_extra {
    ($ty:ident { $($key:literal => $field:ident),* $(,)? } $(required $rkey:literal => $req:ident)?) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct FieldsVisitor;
                impl<'de> Visitor<'de> for FieldsVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($ty), " object"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $field = None;)*
                        $(let mut $req = None;)?
                        let mut extra = Map::new();
                        while let Some(Key(key)) = map.next_key()? {
                            match &*key {
                                $($key => $field = map.next_value()?,)*
                                $($rkey => $req = Some(map.next_value()?),)?
                                _ => {
                                    extra.insert(key.into_owned(), map.next_value()?);
                                }
                            }
                        }
                        Ok($ty {
                            $($field,)*
                            $($req: $req.ok_or_else(|| de::Error::missing_field($rkey))?,)?
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(FieldsVisitor)
            }
        }
    };
}

deserialize_with_extra!(MessageSent {
    "_id" => id,
    "topicId" => topic_id,
    "topicTitle" => topic_title,
    "topicType" => topic_type,
    "sender" => sender,
    "content" => content,
    "mentions" => mentions,
    "created" => created,
    "version" => version,
    "loopbackMetadata" => loopback_metadata,
} required "category" => category);

deserialize_with_extra!(Content {
    "bodyText" => body_text,
    "description" => description,
    "data" => data,
    "assignees" => assignees,
    "dueDate" => due_date,
    "status" => status,
});

deserialize_with_extra!(Sender {
    "_id" => id,
    "username" => username,
    "displayname" => displayname,
    "picture_url" => picture_url,
    "type" => sender_type,
});
