/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_LUKS2_H
#define CONFPOOL_LUKS2_H

/*
 * LUKS2 on-disk format (cryptsetup's "LUKS2 On-Disk Format Specification")
 * in user space, without device-mapper (see docs/disk-encryption.md):
 *
 *  - writer: two binary headers (4096 bytes each, SHA-256 checksums over
 *    header + JSON area) with a JSON area, one keyslot (PBKDF2-SHA256, AF
 *    splitter with 4000 stripes and SHA-256 diffusion, area encrypted with
 *    aes-xts-plain64 and a 512-bit key), one segment aes-xts-plain64 with a
 *    512-bit volume key and 512-byte sectors, one pbkdf2-sha256 digest;
 *  - reader: the headers of untrusted images parsed through cp_cursor and
 *    validated (checksum, offsets, JSON schema), keyslot unlock (pbkdf2
 *    keyslots; argon2 keyslots are reported but cannot be opened),
 *    volume-key check against the digest (constant time);
 *  - data: AES-256-XTS per sector, plain64 IVs (512-byte sector number from
 *    the segment start plus iv_tweak, little-endian).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_LUKS2_HDR_BIN       4096u
#define CP_LUKS2_KEY_SIZE      64u                   /* aes-xts-plain64, 512-bit */
#define CP_LUKS2_SECTOR        512u
#define CP_LUKS2_MAX_HDR_SIZE  (4u * 1024u * 1024u)  /* largest hdr_size in the spec */
#define CP_LUKS2_MAX_KEYSLOTS  32u
#define CP_LUKS2_MAX_SEGMENTS  4u
#define CP_LUKS2_MAX_STRIPES   4000u
#define CP_LUKS2_MAX_SALT      64u
#define CP_LUKS2_MAX_ITER      (1u << 30)

typedef enum cp_luks2_kdf {
        CP_LUKS2_KDF_PBKDF2 = 1,
        CP_LUKS2_KDF_ARGON2I = 2,
        CP_LUKS2_KDF_ARGON2ID = 3,
} cp_luks2_kdf;

typedef struct cp_luks2_keyslot {
        unsigned id;
        uint32_t key_size;          /* volume key bytes */
        cp_luks2_kdf kdf;
        char kdf_hash[16];          /* pbkdf2 */
        uint32_t iterations;        /* pbkdf2 iterations / argon2 time */
        uint32_t memory_kib, cpus;  /* argon2 */
        uint8_t salt[CP_LUKS2_MAX_SALT];
        size_t salt_len;
        uint32_t stripes;
        char af_hash[16];
        uint64_t area_offset, area_size;
        char area_cipher[32];
        uint32_t area_key_size;
} cp_luks2_keyslot;

typedef struct cp_luks2_info {
        uint64_t hdr_size;          /* binary header + JSON area */
        uint64_t seqid;
        bool from_secondary;        /* the primary header was invalid or older */
        char uuid[41];
        char label[49];
        char subsystem[49];
        /* segment 0 */
        uint64_t data_offset;       /* bytes */
        bool data_size_dynamic;
        uint64_t data_size;         /* bytes (when not dynamic) */
        uint64_t iv_tweak;
        uint32_t sector_size;
        char cipher[32];
        /* digest 0 */
        char digest_hash[16];
        uint32_t digest_iterations;
        uint8_t digest_salt[CP_LUKS2_MAX_SALT];
        size_t digest_salt_len;
        uint8_t digest[64];
        size_t digest_len;
        uint32_t digest_keyslots;   /* bit i: keyslot i */
        uint64_t keyslots_size;
        size_t n_keyslots;
        cp_luks2_keyslot keyslots[CP_LUKS2_MAX_KEYSLOTS];
} cp_luks2_info;

/* Parse the headers at the start of buf (at least the primary header and
 * JSON area; the secondary follows at hdr_size).  The primary is used when
 * it is valid, the secondary when the primary is invalid or has a smaller
 * seqid.  Errors: CP_ETRUNC, CP_EFORMAT (magic, JSON, schema, offsets, with
 * the member in the message), CP_EVERSION, CP_ESIG (checksum), CP_EMBZ,
 * CP_EUNSUPPORTED (checksum algorithm, mandatory requirements, integrity),
 * CP_ETOOBIG. */
CP_API CP_WUR int cp_luks2_parse(const uint8_t *buf, size_t len, cp_luks2_info *ret);

/* Open a keyslot with passphrase (or key file bytes) pass: PBKDF2 ->
 * area key, decrypt the keyslot area (in buf, at its offset), AF-merge,
 * check against the digest.  Tries every pbkdf2 keyslot the digest names.
 * CP_ESIG when no keyslot opens; CP_EUNSUPPORTED when only argon2 keyslots
 * exist.  ret_volume_key receives info->keyslots[..].key_size bytes (at most
 * 64; caller wipes). */
CP_API CP_WUR int cp_luks2_unlock(const cp_luks2_info *info, const uint8_t *buf, size_t len, const uint8_t *pass,
                                  size_t pass_len, uint8_t ret_volume_key[CP_LUKS2_KEY_SIZE], unsigned *ret_keyslot);

/* Check a volume key against the digest (constant time).  CP_ESIG if wrong. */
CP_API CP_WUR int cp_luks2_check_volume_key(const cp_luks2_info *info, const uint8_t *vk, size_t vk_len);

#define CP_LUKS2_FORMAT_OPTIONS_VERSION 1
typedef struct cp_luks2_format_options {
        unsigned version;            /* CP_LUKS2_FORMAT_OPTIONS_VERSION */
        uint32_t iterations;         /* keyslot PBKDF2-SHA256 iterations; 0: 100000 (min 1000) */
        uint32_t digest_iterations;  /* 0: 1000 (min 1000) */
        uint64_t data_offset;        /* bytes, multiple of 4096, >= metadata; 0: 16 MiB (cryptsetup's) */
        const char *uuid;            /* NULL: a random v4 UUID */
        const char *label;           /* NULL: empty; at most 47 bytes */
} cp_luks2_format_options;
#define CP_LUKS2_FORMAT_OPTIONS_INIT { .version = CP_LUKS2_FORMAT_OPTIONS_VERSION }

/* Build the metadata for volume_key and passphrase pass: both headers and
 * the keyslot area, *ret_len bytes (<= data_offset; the rest up to the
 * data offset is zero).  *ret is malloc()ed. */
CP_API CP_WUR int cp_luks2_format(const cp_luks2_format_options *o, const uint8_t volume_key[CP_LUKS2_KEY_SIZE],
                                  const uint8_t *pass, size_t pass_len, uint8_t **ret, size_t *ret_len);

/* AES-256-XTS with plain64 IVs over len bytes (a multiple of sector_size):
 * the first sector's IV is iv_sector (512-byte units), each sector adds
 * sector_size/512. */
CP_API CP_WUR int cp_luks2_crypt(const uint8_t key[CP_LUKS2_KEY_SIZE], uint64_t iv_sector, uint32_t sector_size,
                                 const uint8_t *in, uint8_t *out, size_t len, bool encrypt);

/* ---- image files ----------------------------------------------------------- */

/* Encrypt the plain image at in_path into a new LUKS2 image at out_path (a
 * random volume key; a plain size that is not a multiple of 512 is padded
 * with zeros).  ret_volume_key (may be NULL) receives the volume key. */
CP_API CP_WUR int cp_luks2_encrypt_image(const char *in_path, const char *out_path, const cp_luks2_format_options *o,
                                         const uint8_t *pass, size_t pass_len,
                                         uint8_t ret_volume_key[CP_LUKS2_KEY_SIZE]);

typedef struct cp_luks2_volume cp_luks2_volume;
/* Open a LUKS2 image file (aes-xts-plain64, 512-bit key) with a passphrase. */
CP_API CP_WUR int cp_luks2_volume_open(const char *path, const uint8_t *pass, size_t pass_len, bool writable,
                                       cp_luks2_volume **ret);
CP_API cp_luks2_volume *cp_luks2_volume_close(cp_luks2_volume *v);
CP_API const cp_luks2_info *cp_luks2_volume_info(const cp_luks2_volume *v);
/* Bytes of decrypted data (segment size, or file size - data offset). */
CP_API uint64_t cp_luks2_volume_size(const cp_luks2_volume *v);
/* Read / write whole sectors (sector_size units) at sector index first. */
CP_API CP_WUR int cp_luks2_volume_read(cp_luks2_volume *v, uint64_t first, void *buf, size_t n_sectors);
CP_API CP_WUR int cp_luks2_volume_write(cp_luks2_volume *v, uint64_t first, const void *buf, size_t n_sectors);
/* Decrypt the whole volume to out_path. */
CP_API CP_WUR int cp_luks2_decrypt_image(const char *path, const uint8_t *pass, size_t pass_len, const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
