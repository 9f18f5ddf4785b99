! fortran_hello (use mpi): point-to-point, nonblocking and collective calls
! from Fortran. Run it with libckpt_pmpi.so preloaded and CKPT_PMPI_REPORT=1
! to see that the PMPI layer intercepts Fortran calls: Open MPI's Fortran
! bindings call PMPI_* directly, so the layer wraps the Fortran entry points.
program hello_usempi
  use mpi
  implicit none

  integer :: ierr, rank, nprocs, left, right, i, half, hrank
  integer :: reqs(2), stats(MPI_STATUS_SIZE, 2), st(MPI_STATUS_SIZE), n
  double precision :: sendbuf(100), recvbuf(100), total
  logical :: ok

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs, ierr)
  left = mod(rank + nprocs - 1, nprocs)
  right = mod(rank + 1, nprocs)
  ok = .true.

  do i = 1, 100
    sendbuf(i) = rank * 1000 + i
  end do
  call MPI_Irecv(recvbuf, 100, MPI_DOUBLE_PRECISION, left, 1, MPI_COMM_WORLD, reqs(1), ierr)
  call MPI_Isend(sendbuf, 100, MPI_DOUBLE_PRECISION, right, 1, MPI_COMM_WORLD, reqs(2), ierr)
  call MPI_Waitall(2, reqs, stats, ierr)
  ok = ok .and. stats(MPI_SOURCE, 1) == left .and. recvbuf(7) == left * 1000 + 7
  ok = ok .and. reqs(1) == MPI_REQUEST_NULL

  call MPI_Sendrecv(sendbuf, 10, MPI_DOUBLE_PRECISION, right, 2, recvbuf, 100, &
                    MPI_DOUBLE_PRECISION, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, st, ierr)
  call MPI_Get_count(st, MPI_DOUBLE_PRECISION, n, ierr)
  ok = ok .and. n == 10 .and. st(MPI_SOURCE) == left .and. st(MPI_TAG) == 2

  call MPI_Send(sendbuf, 3, MPI_DOUBLE_PRECISION, right, 3, MPI_COMM_WORLD, ierr)
  call MPI_Recv(recvbuf, 3, MPI_DOUBLE_PRECISION, left, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
  ok = ok .and. recvbuf(3) == left * 1000 + 3

  total = rank + 1
  call MPI_Allreduce(MPI_IN_PLACE, total, 1, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
  ok = ok .and. total == nprocs * (nprocs + 1) / 2

  call MPI_Comm_split(MPI_COMM_WORLD, mod(rank, 2), rank, half, ierr)
  call MPI_Comm_rank(half, hrank, ierr)
  call MPI_Barrier(half, ierr)
  call MPI_Comm_free(half, ierr)
  ok = ok .and. half == MPI_COMM_NULL

  if (.not. ok) then
    print *, 'fortran hello (use mpi): FAILED on rank', rank
    call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
  end if
  if (rank == 0) print '(a,i0,a)', 'fortran hello (use mpi): ok on ', nprocs, ' ranks'
  call MPI_Finalize(ierr)
end program hello_usempi
