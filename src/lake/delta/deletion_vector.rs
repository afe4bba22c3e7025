//! Delta Lake deletion vectors: the rows of a data file a DELETE, UPDATE or MERGE marked
//! deleted without rewriting it (protocol "Deletion Vectors"). A descriptor in the
//! file's `add` action says where the bitmap is: inline in the log (`i`, Z85 text) or in
//! a `deletion_vector_<uuid>.bin` file of the table folder (`u`), at an offset where a
//! big-endian size, the bitmap and its big-endian CRC-32 follow. The bitmap is the
//! little-endian magic 1681511377 and a 64-bit roaring bitmap in its portable form,
//! which is `RoaringTreemap`'s own serialisation. Bitmaps stored by absolute path (`p`)
//! are refused.

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use roaring::RoaringTreemap;

/// The magic number that starts a serialised bitmap ("portable" 64-bit format).
const MAGIC: u32 = 1_681_511_377;

/// Characters of a `u` descriptor's path that are the Z85 text of the file's UUID; any
/// before them are a folder.
const UUID_CHARS: usize = 20;

/// Where a file's deletion vector is and how many rows it marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionVector {
    storage_type: String,
    path_or_inline: String,
    offset: Option<u64>,
    size: usize,
    cardinality: u64,
}

impl DeletionVector {
    /// The deletion vector of an `add` or `remove` action, if it has one.
    ///
    /// # Errors
    /// The descriptor lacks a field or has one of the wrong type.
    pub fn of(action: &serde_json::Value) -> Result<Option<Self>, String> {
        let Some(d) = action.get("deletionVector").filter(|d| !d.is_null()) else {
            return Ok(None);
        };
        let text = |name: &str| {
            d.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("a deletion vector without {name}"))
        };
        let number = |name: &str| {
            d.get(name)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| format!("a deletion vector without {name}"))
        };
        Ok(Some(Self {
            storage_type: text("storageType")?,
            path_or_inline: text("pathOrInlineDv")?,
            offset: d.get("offset").and_then(serde_json::Value::as_u64),
            size: usize::try_from(number("sizeInBytes")?).map_err(|e| e.to_string())?,
            cardinality: number("cardinality")?,
        }))
    }

    /// The protocol's unique id: what tells two vectors of one file apart.
    pub fn id(&self) -> String {
        match self.offset {
            Some(offset) => format!("{}{}@{offset}", self.storage_type, self.path_or_inline),
            None => format!("{}{}", self.storage_type, self.path_or_inline),
        }
    }

    /// How many rows it marks deleted.
    pub fn cardinality(&self) -> u64 {
        self.cardinality
    }

    /// The deleted rows (0-based positions in the data file). `table` is the table
    /// folder in `store`.
    ///
    /// # Errors
    /// The bitmap cannot be found or read, fails its checksum, or does not hold as many
    /// rows as the log says.
    pub async fn deleted_rows(
        &self,
        store: &dyn ObjectStore,
        table: &StorePath,
    ) -> Result<RoaringTreemap, String> {
        let bitmap = match self.storage_type.as_str() {
            "i" => {
                let mut bytes = z85::decode(&self.path_or_inline)
                    .map_err(|e| format!("an inline deletion vector is not Z85: {e}"))?;
                // Z85 pads to whole 4-byte groups.
                bytes.truncate(self.size);
                bytes
            }
            "u" => {
                let path = self.file(table)?;
                let start = self.offset.unwrap_or(1);
                let end = (self.size as u64)
                    .checked_add(start)
                    .and_then(|end| end.checked_add(8))
                    .ok_or("a deletion vector past any file's end")?;
                let framed = store
                    .get_range(&path, start..end)
                    .await
                    .map_err(|e| format!("{path}: {e}"))?;
                unframe(&framed, self.size).map_err(|e| format!("{path}: {e}"))?
            }
            other => {
                return Err(format!(
                    "deletion vectors stored as {other:?} (by absolute path) are not supported"
                ))
            }
        };
        let rows = decode(&bitmap)?;
        if rows.len() != self.cardinality {
            return Err(format!(
                "a deletion vector holds {} rows, the log says {}",
                rows.len(),
                self.cardinality
            ));
        }
        Ok(rows)
    }

    /// The file of a `u` vector: `<table>/<prefix>/deletion_vector_<uuid>.bin`.
    fn file(&self, table: &StorePath) -> Result<StorePath, String> {
        let text = &self.path_or_inline;
        let split = text
            .len()
            .checked_sub(UUID_CHARS)
            .filter(|at| text.is_char_boundary(*at))
            .ok_or_else(|| format!("{text:?} is not a deletion vector's file"))?;
        let (prefix, encoded) = text.split_at(split);
        let uuid = z85::decode(encoded)
            .ok()
            .filter(|b| b.len() == 16)
            .ok_or_else(|| format!("{text:?} does not end in a Z85 UUID"))?;
        let hex: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!(
            "deletion_vector_{}-{}-{}-{}-{}.bin",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        let mut path = table.clone();
        for folder in prefix.split('/').filter(|p| !p.is_empty()) {
            path = path.join(folder);
        }
        Ok(path.join(name.as_str()))
    }
}

/// The bitmap of a vector stored in a file: a big-endian size, the bitmap, a big-endian
/// CRC-32 of the bitmap.
fn unframe(framed: &[u8], size: usize) -> Result<Vec<u8>, String> {
    if size.checked_add(8) != Some(framed.len()) {
        return Err("the deletion vector file is shorter than the log says".into());
    }
    let stored_size = u32::from_be_bytes([framed[0], framed[1], framed[2], framed[3]]);
    if usize::try_from(stored_size).ok() != Some(size) {
        return Err(format!(
            "the deletion vector is {stored_size} bytes, the log says {size}"
        ));
    }
    let bitmap = &framed[4..4 + size];
    let tail = &framed[4 + size..];
    let stored_crc = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(bitmap) != stored_crc {
        return Err("the deletion vector fails its checksum".into());
    }
    Ok(bitmap.to_vec())
}

/// The rows of a serialised bitmap (magic, then the portable 64-bit roaring format).
fn decode(bitmap: &[u8]) -> Result<RoaringTreemap, String> {
    let magic = bitmap
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]))
        .ok_or("a deletion vector of fewer than 4 bytes")?;
    if magic != MAGIC {
        return Err(format!(
            "a deletion vector in an unknown format (magic number {magic})"
        ));
    }
    RoaringTreemap::deserialize_from(&bitmap[4..])
        .map_err(|e| format!("a deletion vector cannot be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialised(rows: &RoaringTreemap) -> Vec<u8> {
        let mut bytes = MAGIC.to_le_bytes().to_vec();
        rows.serialize_into(&mut bytes).unwrap();
        bytes
    }

    fn vector(
        storage: &str,
        path: &str,
        offset: Option<u64>,
        size: usize,
        n: u64,
    ) -> DeletionVector {
        DeletionVector {
            storage_type: storage.into(),
            path_or_inline: path.into(),
            offset,
            size,
            cardinality: n,
        }
    }

    #[test]
    fn a_u_vector_names_its_file_by_prefix_and_uuid() {
        // The protocol's own example.
        let v = vector("u", "ab^-aqEH.-t@S}K{vb[*k^", Some(1), 10, 1);
        assert_eq!(
            v.file(&StorePath::from("lake/t")).unwrap().as_ref(),
            "lake/t/ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin"
        );
        assert_eq!(v.id(), "uab^-aqEH.-t@S}K{vb[*k^@1");
        assert!(vector("u", "short", None, 1, 1)
            .file(&StorePath::from("t"))
            .is_err());
    }

    #[tokio::test]
    async fn inline_and_file_vectors_read_back_their_rows() {
        let rows: RoaringTreemap = [0u64, 7, 8, 9, 5_000_000_000].into_iter().collect();
        let bitmap = serialised(&rows);
        let size = bitmap.len();
        let mut padded = bitmap.clone();
        padded.resize(size.div_ceil(4) * 4, 0);
        let inline = vector("i", &z85::encode(&padded), None, size, 5);
        let store = object_store::memory::InMemory::new();
        let table = StorePath::from("t");
        assert_eq!(inline.deleted_rows(&store, &table).await.unwrap(), rows);

        let file = vector("u", "ab^-aqEH.-t@S}K{vb[*k^", Some(1), size, 5);
        let mut framed = vec![1u8];
        framed.extend((size as u32).to_be_bytes());
        framed.extend(&bitmap);
        framed.extend(crc32fast::hash(&bitmap).to_be_bytes());
        let path = file.file(&table).unwrap();
        store.put(&path, framed.clone().into()).await.unwrap();
        assert_eq!(file.deleted_rows(&store, &table).await.unwrap(), rows);

        let wrong_count = vector("u", "ab^-aqEH.-t@S}K{vb[*k^", Some(1), size, 4);
        assert!(wrong_count.deleted_rows(&store, &table).await.is_err());
        let mut corrupt = framed;
        corrupt[10] ^= 0xff;
        store.put(&path, corrupt.into()).await.unwrap();
        let err = file.deleted_rows(&store, &table).await.unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        let by_path = vector("p", "s3://b/t/x.bin", Some(1), size, 5);
        assert!(by_path.deleted_rows(&store, &table).await.is_err());
    }
}
