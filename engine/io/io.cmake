# The file readers and writers (pure C, no OpenCL). Included by the top-level CMakeLists.txt;
# engine/gaussians.c is listed with the other engine sources there.
set(CLS_IO_SOURCES
  engine/io/io_util.c
  engine/io/ply.c
  engine/io/splat.c
  engine/io/cameras.c
  engine/io/colmap.c
  engine/io/nerf.c
  engine/io/camjson.c
  engine/io/image.c
  engine/io/points3d.c
  engine/io/undistort.c)
