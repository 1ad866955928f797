/* estkit: media types, "type/subtype; param=value; param2="quoted"" (RFC
 * 9110 §8.3.1). Type, subtype and parameter names compare
 * case-insensitively; values are kept as sent (quotes removed). */
#ifndef ESTKIT_MEDIA_TYPE_H
#define ESTKIT_MEDIA_TYPE_H

#include "estkit/api.h"
#include "estkit/error.h"

#define EST_MEDIA_TYPE_MAX 512
#define EST_MEDIA_TYPE_MAX_PARAMS 8

typedef struct est_media_type est_media_type;

/* Parses a Content-Type value (RFC 9110 §8.3.1) into *out
 * (est_media_type_free, NULL ok). */
EST_API est_status est_media_type_parse(const char *text, est_media_type **out, est_error *err);
EST_API void est_media_type_free(est_media_type *mt);

/* "type/subtype" lowercased. */
EST_API const char *est_media_type_get0_essence(const est_media_type *mt);
/* 1 when the essence equals essence (case-insensitive). */
EST_API int est_media_type_is(const est_media_type *mt, const char *essence);
/* Parameter value by case-insensitive name, or NULL. */
EST_API const char *est_media_type_get0_param(const est_media_type *mt, const char *name);

#endif
