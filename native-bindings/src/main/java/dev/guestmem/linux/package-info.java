/** Linux system calls and struct layouts in jextract's shape. */
package dev.guestmem.linux;
