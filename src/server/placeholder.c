/* estd shared pieces: placeholder. */
typedef int estd_placeholder;
