/* est shared pieces: placeholder. */
typedef int est_placeholder;
